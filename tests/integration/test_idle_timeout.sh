#!/usr/bin/env bash
# --idle-timeout (issue 17): a forwarded connection that moves no byte either way
# for the timeout is reset on both sides, while a connection that keeps moving
# bytes stays up. Thresholds: timeout 2 s; the idle connection must end within
# 2 + 3 s (deadlines are checked once a second), the busy one must outlive it.
source "$(dirname "$0")/lib.sh"
need python3
TOOL="python3 $(dirname "$0")/../adversarial/idle_conns.py"
$TOOL echo "$WORK/echo.port" 2>"$WORK/echo.err" & PIDS+=($!)
wait_for "$WORK/echo.port" '[0-9]' 10
ECHO=$(cat "$WORK/echo.port")

start_rendezvous
start_forward_listener
start_forward_connector c --idle-timeout 2s -L 0:127.0.0.1:"$ECHO"
PORT=$(forward_port "$WORK/c.events" local)

python3 - "$PORT" "$SLOW" <<'PY' || fail "idle timeout"
import socket, sys, time
port, slow = int(sys.argv[1]), int(sys.argv[2])
idle = socket.create_connection(("127.0.0.1", port), timeout=10)
busy = socket.create_connection(("127.0.0.1", port), timeout=10)
idle.sendall(b"once")
assert idle.recv(4) == b"once"
t0 = time.monotonic()
idle.setblocking(False)
ended = None
while time.monotonic() - t0 < 5 * slow:
    busy.sendall(b"tick")  # the busy connection moves bytes every 0.25 s
    assert busy.recv(4) == b"tick", "busy connection lost its echo"
    try:
        if idle.recv(1) == b"":
            ended = time.monotonic() - t0
            break
    except BlockingIOError:
        pass
    except ConnectionResetError:
        ended = time.monotonic() - t0
        break
    time.sleep(0.25)  # paces the busy side's traffic; not a synchronisation
if ended is None:
    sys.exit("the idle connection was still open after %d s" % (5 * slow))
busy.sendall(b"last")
assert busy.recv(4) == b"last", "busy connection was closed too"
print("idle connection reset after %.1f s (timeout 2 s); busy one still up" % ended)
PY
wait_for "$WORK/c.err" "idle for longer than --idle-timeout" 5
