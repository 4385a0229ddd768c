"""TCP endpoints with exact semantics for test_forward.sh.
  tcp_tool.py serve MODE          listens on a free loopback port, prints it,
                                  serves connections forever; MODE is
                                  'halfclose' (read to EOF, answer, close) or
                                  'reset' (accept, then close with RST) or
                                  'flood' (send FLOOD_MB MiB, then close)
  tcp_tool.py halfclose PORT      sends 1 MB, half-closes, expects the answer
                                  and a clean EOF
  tcp_tool.py expect-reset PORT   expects the connection to be reset
  tcp_tool.py expect-close PORT   expects EOF or reset soon, with no data
  tcp_tool.py stall PORT SECS PIDS...
                                  connects, reads nothing for SECS while the
                                  flood fills every buffer on the way, prints
                                  the largest VmRSS (KiB) of PIDS, then reads
                                  everything and checks the byte count
Exit status 0 when the expectation holds."""
import socket
import struct
import sys
import threading

TIMEOUT = 20.0
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
FLOOD_MB = 200


def serve(mode):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print(srv.getsockname()[1], flush=True)

    def handle(conn):
        with conn:
            if mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if mode == "flood":
                for _ in range(FLOOD_MB):
                    conn.sendall(PAYLOAD)
                return
            total = 0
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                total += len(chunk)
            conn.sendall(b"got %d bytes" % total)
            conn.shutdown(socket.SHUT_WR)

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def client(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def halfclose(port):
    s = client(port)
    s.sendall(PAYLOAD)
    s.shutdown(socket.SHUT_WR)  # FIN: the server must see EOF and still answer
    answer = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    expected = b"got %d bytes" % len(PAYLOAD)
    if answer != expected:
        print("answer %r, expected %r" % (answer, expected))
        return 1
    return 0


def expect_reset(port):
    try:
        s = client(port)  # a fast reset can beat connect() itself
    except ConnectionResetError:
        return 0
    try:
        s.sendall(b"hello")
        while True:
            if not s.recv(4096):
                print("clean EOF instead of a reset")
                return 1
    except ConnectionResetError:
        return 0


def expect_close(port):
    try:
        s = client(port)  # a fast reset can beat connect() itself
    except ConnectionResetError:
        return 0
    try:
        data = s.recv(4096)
    except ConnectionResetError:
        return 0
    if data:
        print("unexpected data %r" % data[:32])
        return 1
    return 0


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def stall(port, secs, pids):
    import time
    s = client(port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    # A slow consumer is the scenario under test, not a synchronisation: the
    # memory bound must hold whenever it is sampled.
    peak = 0
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        peak = max([peak] + [rss_kib(p) for p in pids])
        time.sleep(0.1)
    print(peak)
    total = 0
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    if total != FLOOD_MB * len(PAYLOAD):
        print("received %d bytes, expected %d" % (total, FLOOD_MB * len(PAYLOAD)), file=sys.stderr)
        return 1
    return 0


def main():
    try:
        if sys.argv[1] == "serve":
            serve(sys.argv[2])
        if sys.argv[1] == "stall":
            return stall(int(sys.argv[2]), float(sys.argv[3]), [int(p) for p in sys.argv[4:]])
        return {"halfclose": halfclose, "expect-reset": expect_reset,
                "expect-close": expect_close}[sys.argv[1]](int(sys.argv[2]))
    except socket.timeout:
        print("timed out after %ss" % TIMEOUT)
        return 1


sys.exit(main())
