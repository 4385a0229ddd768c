#!/usr/bin/env python3
"""Many concurrent TCP streams of a fixed size, for bench/run.

  streams.py serve SIZE
      Listens on a free loopback port (printed on stdout, one line) and sends
      every connection exactly SIZE bytes of a fixed pseudo-random pattern,
      then closes it. Runs until killed.

  streams.py fetch PORT COUNT SIZE TIMEOUT
      Opens COUNT connections to 127.0.0.1:PORT all at once, reads each to
      end of file and checks it carried exactly the SIZE-byte pattern. Prints
      one JSON line: {"ok": N, "failed": N, "bytes": N, "seconds": S,
      "errors": {...}}. Exits 0 only if all COUNT streams were intact.
"""
import asyncio
import json
import random
import sys
import time


def pattern(size):
    return random.Random(0x70756E6368).randbytes(size)


async def serve(size):
    data = memoryview(pattern(size))

    async def handle(reader, writer):
        try:
            for off in range(0, size, 65536):
                writer.write(data[off:off + 65536])
                await writer.drain()
            writer.close()
            await writer.wait_closed()
        except (ConnectionError, OSError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


async def fetch(port, count, size, timeout):
    data = pattern(size)
    errors = {}
    total = 0

    def note(what):
        errors[what] = errors.get(what, 0) + 1

    async def one():
        nonlocal total
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as e:
            note("connect: %s" % (e.strerror or e))
            return False
        got = 0
        good = True
        try:
            while True:
                chunk = await reader.read(262144)
                if not chunk:
                    break
                if good and data[got:got + len(chunk)] != chunk:
                    good = False
                got += len(chunk)
        except OSError as e:
            note("read: %s" % (e.strerror or e))
            good = False
        finally:
            writer.close()
        total += got
        if got != size:
            note("empty stream" if got == 0 else "wrong length")
            return False
        if not good:
            note("corrupt data")
        return good

    start = time.monotonic()
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(one() for _ in range(count))), timeout)
    except asyncio.TimeoutError:
        results = []
        note("timed out after %ss" % timeout)
    secs = time.monotonic() - start
    ok = sum(1 for r in results if r)
    print(json.dumps({"ok": ok, "failed": count - ok, "bytes": total,
                      "seconds": round(secs, 3), "errors": errors}), flush=True)
    return ok == count


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        asyncio.run(serve(int(sys.argv[2])))
    elif len(sys.argv) == 6 and sys.argv[1] == "fetch":
        ok = asyncio.run(fetch(int(sys.argv[2]), int(sys.argv[3]),
                               int(sys.argv[4]), float(sys.argv[5])))
        sys.exit(0 if ok else 1)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
