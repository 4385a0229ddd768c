#!/usr/bin/env bash
# Issue 17, finding 6: idle forwarded connections used to exhaust a session's
# streams. With 3,000 idle -L connections (beyond the initial credit of 1,024) a
# new connection never got through. Now the credit grows with demand up to 4,096
# streams, and a connection beyond that is refused (reset) after a bounded wait.
#
# Thresholds (stated here, checked below):
#   - with IDLE1 = 3000 idle connections held, every one reaches the target (the
#     listener opened 3,000 TCP connections) and a new connection echoes within
#     PROBE_OK_MS = 5000 ms;
#   - with IDLE2 = 1200 more (4,200 > 4,096), the target sees at most 4,096, and a
#     new connection is refused (reset or closed, not left hanging) within
#     PROBE_REFUSED_MS = 15000 ms (the wait is 10 s, forward::kStreamCreditWait);
#   - at the ceiling neither punch process exceeds MAX_RSS_MIB = 64 MiB (measured: 22) resident;
#   - a SOCKS5 client (-D) at the ceiling gets reply 1, "general failure";
#   - the connector says so on stderr ("refused N forwarded connection(s)").
source "$(dirname "$0")/../integration/lib.sh"
need python3
# The test holds ~4,200 connections in each of four processes.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 16384 ] || skip "descriptor hard limit $hard < 16384"
TOOL="python3 $(dirname "$0")/idle_conns.py"
IDLE1=3000
IDLE2=1200
CEILING=4096
PROBE_OK_MS=5000
PROBE_REFUSED_MS=15000
MAX_RSS_MIB=64

$TOOL hold "$WORK/hold.port" "$WORK/hold.count" 2>"$WORK/hold.err" & PIDS+=($!)
$TOOL echo "$WORK/echo.port" 2>"$WORK/echo.err" & PIDS+=($!)
wait_for "$WORK/hold.port" '[0-9]' 10
wait_for "$WORK/echo.port" '[0-9]' 10
HOLD=$(cat "$WORK/hold.port")
ECHO=$(cat "$WORK/echo.port")

start_rendezvous
start_forward_listener
start_forward_connector c -L 0:127.0.0.1:"$HOLD" -L 0:127.0.0.1:"$ECHO" -D 127.0.0.1:0
C_PID=${PIDS[-1]}
rss_mib() { echo $(( $(awk '/VmRSS/ {print $2}' "/proc/$1/status") / 1024 )); }
L_RSS0=$(rss_mib "$L_PID"); C_RSS0=$(rss_mib "$C_PID")
mapfile -t LPORTS < <(grep '"event":"forward","kind":"local"' "$WORK/c.events" |
  sed 's/.*"address":"[^"]*:\([0-9]*\)".*/\1/')
[ ${#LPORTS[@]} -eq 2 ] || fail "expected 2 -L ports, got ${#LPORTS[*]}"

# wait_count N SECS: waits until the target holds N connections.
wait_count() {
  local n=$1 secs=$(( $2 * SLOW )) i=0
  # Polls a counter file the target rewrites on every accept: bounded by secs.
  until [ "$(cat "$WORK/hold.count" 2>/dev/null || echo 0)" -ge "$n" ]; do
    i=$((i + 1))
    [ $i -gt $((secs * 20)) ] && return 1
    sleep 0.05
  done
}

$TOOL idle "${LPORTS[0]}" "$IDLE1" "$WORK/idle1.ready" 2>"$WORK/idle1.err" & PIDS+=($!)
wait_for "$WORK/idle1.ready" '[0-9]' 30
wait_count "$IDLE1" 20 || fail "only $(cat "$WORK/hold.count") of $IDLE1 idle connections reached the target (initial credit 1024)"
read -r outcome ms < <($TOOL probe "${LPORTS[1]}" 20)
echo "with $IDLE1 idle -L connections: new connection $outcome in $ms ms"
[ "$outcome" = echo ] || fail "new connection beside $IDLE1 idle ones: $outcome after $ms ms"
[ "$ms" -le $((PROBE_OK_MS * SLOW)) ] || fail "new connection took $ms ms (> $PROBE_OK_MS)"

$TOOL idle "${LPORTS[0]}" "$IDLE2" "$WORK/idle2.ready" 2>"$WORK/idle2.err" & PIDS+=($!)
wait_for "$WORK/idle2.ready" '[0-9]' 30
wait_count "$CEILING" 20 || fail "only $(cat "$WORK/hold.count") of $CEILING streams open at the ceiling"
SOCKS=$(forward_port "$WORK/c.events" dynamic)
python3 "$(dirname "$0")/../integration/socks_client.py" 127.0.0.1 "$SOCKS" connect-ip 127.0.0.1 \
  "$ECHO" expect-reply 1 >"$WORK/socks.out" 2>&1 &
SOCKS_PID=$!
read -r outcome ms < <($TOOL probe "${LPORTS[1]}" 30)
held=$(cat "$WORK/hold.count")
L_RSS=$(rss_mib "$L_PID"); C_RSS=$(rss_mib "$C_PID")
echo "RSS at the ceiling: listener $L_RSS0 -> $L_RSS MiB, connector $C_RSS0 -> $C_RSS MiB"
[ "$L_RSS" -le $((MAX_RSS_MIB * SLOW)) ] && [ "$C_RSS" -le $((MAX_RSS_MIB * SLOW)) ] ||
  fail "4,096 idle streams cost more than $MAX_RSS_MIB MiB"
echo "with $((IDLE1 + IDLE2)) idle -L connections: target holds $held; new connection $outcome in $ms ms"
[ "$held" -le "$CEILING" ] || fail "the listener opened $held connections, above the $CEILING ceiling"
[ "$outcome" = refused ] || fail "a connection beyond the ceiling was not refused: $outcome after $ms ms"
[ "$ms" -le $((PROBE_REFUSED_MS * SLOW)) ] || fail "refusal took $ms ms (> $PROBE_REFUSED_MS)"
wait "$SOCKS_PID" || fail "-D at the ceiling: not SOCKS5 reply 1 (general failure): $(cat "$WORK/socks.out")"
wait_for "$WORK/c.err" "refused [0-9]* forwarded connection" 10
kill -0 "$L_PID" 2>/dev/null || fail "listener died"
grep "refused [0-9]* forwarded connection" "$WORK/c.err" | head -3
