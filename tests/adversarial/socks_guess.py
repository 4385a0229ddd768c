"""For test_socks_guessing.sh: guesses a SOCKS5 proxy's RFC 1929 password.
  socks_guess.py guess PORT SECONDS THREADS   wrong passwords from THREADS parallel
                                              connections for SECONDS; prints the
                                              number of answered guesses
  socks_guess.py login PORT USER PASS SECONDS one login with the right password;
                                              prints "ok MS" or "failed MS"
"""
import socket
import sys
import threading
import time


def attempt(port, user, password, timeout):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.settimeout(timeout)
        u, p = user.encode(), password.encode()
        s.sendall(b"\x05\x01\x02" + b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        got = b""
        while len(got) < 4:
            d = s.recv(4 - len(got))
            if not d:
                return None
            got += d
        return got[3] == 0  # RFC 1929 status: 0 = success
    finally:
        s.close()


def guess(port, seconds, threads):
    end = time.monotonic() + seconds
    answered = [0]
    lock = threading.Lock()

    def run(i):
        n = 0
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            try:
                if attempt(port, "alice", "guess%d-%d" % (i, n), left) is False:
                    with lock:
                        answered[0] += 1
            except OSError:
                pass  # timed out at the end, or refused: not an answered guess
            n += 1

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(answered[0])


def login(port, user, password, seconds):
    t0 = time.monotonic()
    try:
        ok = attempt(port, user, password, seconds)
    except OSError:
        ok = False
    print("%s %d" % ("ok" if ok else "failed", int((time.monotonic() - t0) * 1000)))


if __name__ == "__main__":
    if sys.argv[1] == "guess":
        guess(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
    else:
        login(int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]))
