"""A deliberately picky SOCKS5 client for test_socks.sh: checks reply codes and
that malformed input gets the right reply or a prompt close, never a hang.
Usage: socks_client.py HOST PORT connect-ip IP PORT expect-reply CODE
       socks_client.py HOST PORT connect-ip6 IP PORT expect-reply CODE
       socks_client.py HOST PORT connect-name NAME PORT expect-reply CODE
       socks_client.py HOST PORT bad-input
Exits 0 when every check holds; prints what went wrong otherwise."""
import socket
import struct
import sys

TIMEOUT = 20.0


def connect(host, port):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def read_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return data
        data += chunk
    return data


def read_until_close(s, limit=1024):
    """Returns what the server sends before closing; raises on a timeout."""
    data = b""
    while len(data) <= limit:
        chunk = s.recv(4096)
        if not chunk:
            return data
        data += chunk
    raise AssertionError("server keeps sending: %r" % data[:64])


def request_reply(host, port, atyp_and_addr, dport):
    s = connect(host, port)
    s.sendall(b"\x05\x01\x00")
    assert read_exact(s, 2) == b"\x05\x00", "method selection"
    s.sendall(b"\x05\x01\x00" + atyp_and_addr + struct.pack("!H", dport))
    reply = read_exact(s, 4)
    s.close()
    return reply


def expect_closed(name, payload, expected_prefix=b""):
    s = connect(sys.argv[1], int(sys.argv[2]))
    s.sendall(payload)
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    try:
        got = read_until_close(s)
    except ConnectionResetError:
        got = b""
    except socket.timeout:
        raise AssertionError("%s: no answer and no close within %ss" % (name, TIMEOUT))
    s.close()
    if not got.startswith(expected_prefix):
        raise AssertionError("%s: got %r, expected %r..." % (name, got, expected_prefix))


def bad_input():
    greet = b"\x05\x01\x00"
    ok = b"\x05\x00"
    expect_closed("garbage", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    expect_closed("unknown version", b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00")
    expect_closed("truncated greeting", b"\x05\x03\x00")
    expect_closed("no acceptable method", b"\x05\x01\x02", b"\x05\xff")
    expect_closed("BIND", greet + b"\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50", ok + b"\x05\x07")
    expect_closed("UDP ASSOCIATE", greet + b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00",
                  ok + b"\x05\x07")
    expect_closed("unknown address type", greet + b"\x05\x01\x00\x05\x00\x50", ok + b"\x05\x08")
    expect_closed("truncated request", greet + b"\x05\x01\x00\x03\x10abc", ok)
    expect_closed("empty name", greet + b"\x05\x01\x00\x03\x00\x00\x50", ok + b"\x05\x01")
    # A name of 255 bytes is the longest the format allows; claim 255 and send
    # more than that in total: the request ends at 255, the rest is payload.
    long_name = b"a" * 255
    s = connect(sys.argv[1], int(sys.argv[2]))
    s.sendall(greet)
    assert read_exact(s, 2) == ok
    s.sendall(b"\x05\x01\x00\x03\xff" + long_name + b"\x00\x50")
    reply = read_exact(s, 2)
    s.close()
    assert reply[:1] == b"\x05" and reply[1:2] != b"\x00", "overlong name got %r" % reply


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    mode = sys.argv[3]
    try:
        if mode == "bad-input":
            bad_input()
            return 0
        if mode == "connect-ip":
            addr = b"\x01" + socket.inet_aton(sys.argv[4])
        elif mode == "connect-ip6":
            addr = b"\x04" + socket.inet_pton(socket.AF_INET6, sys.argv[4])
        else:
            name = sys.argv[4].encode()
            addr = b"\x03" + bytes([len(name)]) + name
        reply = request_reply(host, port, addr, int(sys.argv[5]))
        want = int(sys.argv[7])
        if len(reply) < 2 or reply[0] != 5 or reply[1] != want:
            print("reply %r, expected code %d" % (reply, want))
            return 1
        return 0
    except AssertionError as e:
        print("FAIL:", e)
        return 1


sys.exit(main())
