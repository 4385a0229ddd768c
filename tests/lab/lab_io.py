"""Byte pumps and a timed request/answer for the NAT lab tests; every mode ends by itself.

  lab_io.py send FILE [--rate BYTES_PER_S] [--start-file F --start-max SECS]
                      [--hold-file F] [--hold-max SECS]
      Waits until the file --start-file exists (at most --start-max seconds, then
      sends anyway), writes FILE to stdout (paced to --rate if given), then keeps
      stdout open until the file --hold-file exists or --hold-max seconds have passed
      (default 0), then exits. Used as punch's stdin: holding it open keeps the session
      up after the data.
  lab_io.py recv OUT [--stamp F] [--expect N --done F]
      Copies stdin to OUT; writes the wall-clock time (seconds since the epoch) of the
      first byte to the --stamp file (time-to-first-byte), and the time the N-th byte
      arrived to the --done file. Used as punch's stdout.
  lab_io.py echo-server HOST PORT [--lifetime SECS]
      TCP echo server (each connection gets back what it sends); prints 'listening'
      once bound; exits after --lifetime seconds (default 180).
  lab_io.py ask HOST PORT [--delay SECS] [--timeout SECS] [--payload TEXT]
      Sleeps --delay, prints 'asking at EPOCH', connects, sends TEXT, waits for the
      same bytes back; prints 'answered in N ms' (exit 0) or 'no answer: REASON'
      (exit 1). The time counts from
      the connect call, so it includes opening the stream through the tunnel.
  lab_io.py paths EVENTS
      Prints one line per "path" event of a punch --events file: EPOCH PATH ADDRESS
      RTT_MS (EPOCH in seconds with milliseconds, from the event's ts).
Exit status 2 on a usage error."""
import argparse
import datetime
import json
import os
import select
import signal
import socket
import sys
import threading
import time

CHUNK = 64 * 1024
PACE_SLICE_S = 0.02  # a paced sender writes rate * 20 ms at a time
POLL_S = 0.05        # how often a hold checks for its release file


def wait_file(path, secs):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if path and os.path.exists(path):
            return
        time.sleep(POLL_S)


def send(args):
    out = sys.stdout.buffer
    if args.start_file:
        wait_file(args.start_file, args.start_max)
    rate = args.rate
    start = time.monotonic()
    sent = 0
    with open(args.file, "rb") as f:
        while True:
            size = CHUNK if rate <= 0 else max(1, int(rate * PACE_SLICE_S))
            chunk = f.read(size)
            if not chunk:
                break
            out.write(chunk)
            out.flush()
            sent += len(chunk)
            if rate > 0:
                ahead = sent / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
    wait_file(args.hold_file, args.hold_max)
    return 0


def recv(args):
    inp = sys.stdin.buffer.raw
    total = 0
    done = False
    with open(args.out, "wb") as out:
        while True:
            chunk = inp.read(CHUNK)
            if not chunk:
                break
            now = time.time()
            if total == 0 and args.stamp:
                stamp(args.stamp, now)
            out.write(chunk)
            total += len(chunk)
            if not done and args.done and total >= args.expect:
                out.flush()
                stamp(args.done, now)
                done = True
    return 0


def stamp(path, t):
    with open(path + ".tmp", "w") as s:
        s.write("%.6f\n" % t)
    os.replace(path + ".tmp", path)


def echo_server(args):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.host, args.port))
    srv.listen(16)
    print("listening", flush=True)

    def handle(conn):
        with conn:
            conn.settimeout(args.lifetime)
            try:
                while True:
                    data = conn.recv(CHUNK)
                    if not data:
                        return
                    conn.sendall(data)
            except OSError:
                return

    deadline = time.monotonic() + args.lifetime
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0
        ready, _, _ = select.select([srv], [], [], min(left, 1.0))
        if ready:
            conn, _ = srv.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()


def ask(args):
    time.sleep(args.delay)
    want = args.payload.encode()
    print("asking at %.3f" % time.time(), flush=True)
    start = time.monotonic()
    try:
        s = socket.create_connection((args.host, args.port), timeout=args.timeout)
        s.settimeout(max(0.01, args.timeout - (time.monotonic() - start)))
        s.sendall(want)
        got = b""
        while len(got) < len(want):
            data = s.recv(CHUNK)
            if not data:
                break
            got += data
        s.close()
    except OSError as e:
        print("no answer: %s after %.0f ms" % (e, (time.monotonic() - start) * 1000), flush=True)
        return 1
    ms = (time.monotonic() - start) * 1000
    if got != want:
        print("no answer: got %r after %.0f ms" % (got, ms), flush=True)
        return 1
    print("answered in %.0f ms" % ms, flush=True)
    return 0


def paths(args):
    try:
        f = open(args.events)
    except FileNotFoundError:
        return 0
    with f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue  # a line still being written
            if ev.get("event") != "path":
                continue
            ts = datetime.datetime.strptime(ev["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
            epoch = ts.replace(tzinfo=datetime.timezone.utc).timestamp()
            print("%.3f %s %s %s" % (epoch, ev.get("path", "?"), ev.get("address", "?"),
                                     ev.get("rtt_ms", "?")))
    return 0


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("send")
    s.add_argument("file")
    s.add_argument("--rate", type=float, default=0)
    s.add_argument("--start-file", default="")
    s.add_argument("--start-max", type=float, default=60)
    s.add_argument("--hold-file", default="")
    s.add_argument("--hold-max", type=float, default=0)
    r = sub.add_parser("recv")
    r.add_argument("out")
    r.add_argument("--stamp", default="")
    r.add_argument("--expect", type=int, default=0)
    r.add_argument("--done", default="")
    e = sub.add_parser("echo-server")
    e.add_argument("host")
    e.add_argument("port", type=int)
    e.add_argument("--lifetime", type=float, default=180)
    a = sub.add_parser("ask")
    a.add_argument("host")
    a.add_argument("port", type=int)
    a.add_argument("--delay", type=float, default=0)
    a.add_argument("--timeout", type=float, default=5)
    a.add_argument("--payload", default="ping")
    t = sub.add_parser("paths")
    t.add_argument("events")
    args = p.parse_args()
    return {"send": send, "recv": recv, "echo-server": echo_server, "ask": ask,
            "paths": paths}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
