#!/usr/bin/env bash
# -L and -R with real clients: iperf3 for 10 s through each, TCP half-close
# both ways, a reset passed on as a reset, a failed far connect closing the
# local connection promptly, and the listener's --permit-open and
# --gateway-ports refusals reported to the connector with the tunnel still up.
source "$(dirname "$0")/lib.sh"
need iperf3 python3
TOOL="python3 $(dirname "$0")/tcp_tool.py"
IPERF_SECS=${PUNCH_IPERF_SECS:-10}

$TOOL serve halfclose >"$WORK/hc.port" 2>"$WORK/hc.err" & PIDS+=($!)
$TOOL serve reset >"$WORK/rst.port" 2>"$WORK/rst.err" & PIDS+=($!)
$TOOL serve flood >"$WORK/flood.port" 2>"$WORK/flood.err" & PIDS+=($!)
wait_for "$WORK/hc.port" '[0-9]' 10
wait_for "$WORK/rst.port" '[0-9]' 10
wait_for "$WORK/flood.port" '[0-9]' 10
HC=$(cat "$WORK/hc.port"); RST=$(cat "$WORK/rst.port"); FLOOD=$(cat "$WORK/flood.port")
V6=()
ip -6 addr show dev lo 2>/dev/null | grep -q '::1' && V6=(-L "[::1]:0:127.0.0.1:$HC")
IPERF_PORT=$(free_tcp_port)
iperf3 -s -p "$IPERF_PORT" -B 127.0.0.1 >"$WORK/iperf_s.log" 2>&1 & PIDS+=($!)
CLOSED=$(free_tcp_port)

start_rendezvous
start_forward_listener --permit-open "127.0.0.1:*" --permit-open "localhost:$IPERF_PORT"
start_forward_connector c -L 127.0.0.1:0:127.0.0.1:$IPERF_PORT -L 0:127.0.0.1:$HC \
  -L 0:127.0.0.1:$RST -L 0:127.0.0.1:$CLOSED -L 0:10.11.12.13:80 -L 0:127.0.0.1:$FLOOD \
  -R 0:127.0.0.1:$IPERF_PORT -R 0.0.0.0:0:127.0.0.1:$HC -D 0 "${V6[@]}"
C_PID=${PIDS[-1]}
wait_for "$WORK/c.events" '"target":"10.11.12.13:80"' 10
mapfile -t LPORTS < <(grep '"event":"forward","kind":"local"' "$WORK/c.events" | sed 's/.*"address":"[^"]*:\([0-9]*\)".*/\1/')
[ ${#LPORTS[@]} -ge 6 ] || fail "expected 6 -L ports, got ${#LPORTS[*]}"
SOCKS=$(forward_port "$WORK/c.events" dynamic)

# Half-close and reset semantics through -L.
$TOOL halfclose "${LPORTS[1]}" || fail "half-close through -L"
$TOOL expect-reset "${LPORTS[2]}" || fail "reset through -L"
t0=$(date +%s%N)
$TOOL expect-close "${LPORTS[3]}" || fail "failed far connect did not close the local connection"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -lt $((3000 * SLOW)) ] || fail "failed far connect took ${ms} ms to close the local connection"
# --permit-open refuses 10.11.12.13:80: closed at once, reason logged on both sides.
$TOOL expect-close "${LPORTS[4]}" || fail "refused target did not close the local connection"
wait_for "$WORK/l.events" '"event":"forward_refused".*10.11.12.13:80' 10
wait_for "$WORK/c.err" "not permitted" 10
# The same through -D is SOCKS5's "connection not allowed by ruleset" (2); an
# IPv6 target that refuses is "connection refused" (5).
python3 "$(dirname "$0")/socks_client.py" 127.0.0.1 "$SOCKS" connect-ip 10.11.12.13 80 \
  expect-reply 2 || fail "-D to a target --permit-open forbids: wrong reply"
if [ ${#V6[@]} -gt 0 ]; then
  python3 "$(dirname "$0")/socks_client.py" 127.0.0.1 "$SOCKS" connect-ip6 ::1 "$CLOSED" \
    expect-reply 2 || fail "-D to [::1] outside --permit-open: wrong reply"
  V6PORT=$(grep '"event":"forward","kind":"local".*\[::1\]' "$WORK/c.events" | sed 's/.*"address":"[^"]*:\([0-9]*\)".*/\1/')
  python3 - "$V6PORT" <<'PY' || fail "-L bound on [::1] does not carry a half-close"
import socket, sys
s = socket.create_connection(("::1", int(sys.argv[1])), timeout=20)
s.sendall(b"x" * 1000); s.shutdown(socket.SHUT_WR)
data = b""
while True:
    c = s.recv(4096)
    if not c: break
    data += c
sys.exit(0 if data == b"got 1000 bytes" else 1)
PY
fi

# Back-pressure: 200 MB pushed at a reader that stalls for 3 s; neither punch
# process may buffer it (peak RSS bounded), and every byte arrives afterwards.
PEAK_KB=$($TOOL stall "${LPORTS[5]}" 3 "$C_PID" "$L_PID") || fail "flood through -L incomplete"
[ "$PEAK_KB" -lt $((96 * 1024)) ] || fail "punch grew to ${PEAK_KB} KiB behind a stalled reader"

# -R: loopback bind granted (its port in both event logs), 0.0.0.0 refused.
wait_for "$WORK/c.events" '"event":"forward_failed"' 10
grep -q "gateway-ports" "$WORK/c.err" || fail "refused -R does not say why: $(cat "$WORK/c.err")"
RPORT=$(forward_port "$WORK/c.events" remote)
[ "$RPORT" -gt 0 ] || fail "no -R port"
grep -q "\"event\":\"forward\",\"kind\":\"remote\".*127.0.0.1:$RPORT" "$WORK/l.events" ||
  fail "listener does not report its -R port $RPORT"

# iperf3 through -L, then through -R (the listener's port leads back here).
iperf3 -c 127.0.0.1 -p "${LPORTS[0]}" -t "$IPERF_SECS" -J >"$WORK/iperf_l.json" 2>&1 ||
  fail "iperf3 through -L: $(tail -5 "$WORK/iperf_l.json")"
iperf3 -c 127.0.0.1 -p "$RPORT" -t "$IPERF_SECS" -J >"$WORK/iperf_r.json" 2>&1 ||
  fail "iperf3 through -R: $(tail -5 "$WORK/iperf_r.json")"
# rate FILE: Mbit/s received, or a failure naming what iperf3 said instead.
rate() {
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
end = d.get("end", {})
if "sum_received" not in end:
    sys.exit("no sum_received in %s: error=%r, intervals=%d, end keys=%s"
             % (sys.argv[1], d.get("error"), len(d.get("intervals", [])), sorted(end)))
print("%.0f" % (end["sum_received"]["bits_per_second"] / 1e6))' "$1"
}
L_MBPS=$(rate "$WORK/iperf_l.json") || fail "iperf3 through -L gave no result"
R_MBPS=$(rate "$WORK/iperf_r.json") || fail "iperf3 through -R gave no result"
[ "$L_MBPS" -gt 0 ] && [ "$R_MBPS" -gt 0 ] || fail "iperf3 moved nothing"

# The tunnel survived all of it.
$TOOL halfclose "${LPORTS[1]}" || fail "half-close after the refusals"
kill -0 "$L_PID" 2>/dev/null || fail "listener died"
echo "-L/-R: half-close, reset, prompt close, refusals ok; peak RSS behind a stalled reader ${PEAK_KB} KiB; iperf3 ${IPERF_SECS}s: -L ${L_MBPS} Mbit/s, -R ${R_MBPS} Mbit/s"
