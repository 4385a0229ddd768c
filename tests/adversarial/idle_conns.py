"""Helpers for test_idle_streams.sh: TCP servers that hold or echo connections, a
client that opens many idle connections and keeps them, and a probe that says what
happens to one new connection.

  idle_conns.py hold PORTFILE COUNTFILE   accept and hold every connection; write
                                          the number held to COUNTFILE as it grows
  idle_conns.py echo PORTFILE             echo every connection's bytes back
  idle_conns.py idle PORT N READYFILE     open N connections to 127.0.0.1:PORT, hold
                                          them until killed; READYFILE gets N once open
  idle_conns.py probe PORT SECONDS        one connection: send "ping", wait up to
                                          SECONDS; prints "echo MS", "refused MS"
                                          (reset or closed) or "timeout MS"
"""
import os
import resource
import select
import signal
import socket
import sys
import threading
import time


def raise_nofile(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        sys.exit(77)  # the caller skips: not enough descriptors on this host
    if soft == resource.RLIM_INFINITY or soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def listen(portfile):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(4096)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    return s


def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def hold(portfile, countfile):
    raise_nofile(16384)
    s = listen(portfile)
    held = []
    write_atomic(countfile, "0\n")
    while True:
        c, _ = s.accept()
        held.append(c)
        write_atomic(countfile, "%d\n" % len(held))


def echo(portfile):
    s = listen(portfile)

    def serve(c):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def idle(port, n, readyfile):
    raise_nofile(n + 256)
    conns = []
    for _ in range(n):
        conns.append(socket.create_connection(("127.0.0.1", port), timeout=30))
    write_atomic(readyfile, "%d\n" % n)
    while True:
        signal.pause()  # holds the connections until killed


def probe(port, seconds):
    t0 = time.monotonic()
    ms = lambda: int((time.monotonic() - t0) * 1000)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=seconds)
        s.sendall(b"ping")
        got = b""
        while len(got) < 4:
            left = seconds - (time.monotonic() - t0)
            if left <= 0:
                print("timeout %d" % ms())
                return
            r, _, _ = select.select([s], [], [], left)
            if not r:
                print("timeout %d" % ms())
                return
            d = s.recv(4)
            if not d:
                print("refused %d" % ms())
                return
            got += d
        print("echo %d" % ms())
    except (ConnectionResetError, BrokenPipeError):
        print("refused %d" % ms())
    except socket.timeout:
        print("timeout %d" % ms())


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "hold":
        hold(sys.argv[2], sys.argv[3])
    elif cmd == "echo":
        echo(sys.argv[2])
    elif cmd == "idle":
        idle(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif cmd == "probe":
        probe(int(sys.argv[2]), float(sys.argv[3]))
    else:
        sys.exit("unknown command " + cmd)
