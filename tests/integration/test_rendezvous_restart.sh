#!/usr/bin/env bash
# Endpoints re-register after a rendezvous restart without user action, and a
# new session then works through the restarted rendezvous.
source "$(dirname "$0")/lib.sh"

start_rendezvous
PORT=${RV##*:}
L_ID=$(keygen listener)
C_ID=$(keygen connector)
echo "after restart" >"$WORK/l.in"
"$PUNCH" listen -r "$RV" -k "$WORK/listener.key" --allow "$C_ID" --events "$WORK/l.events" \
  <"$WORK/l.in" >"$WORK/l.out" 2>"$WORK/l.err" &
L_PID=$!; PIDS+=($L_PID)
wait_for "$WORK/l.events" '"event":"registered"' 10

kill "$RV_PID"; wait "$RV_PID" 2>/dev/null || true
"$PUNCH" rendezvous -l "127.0.0.1:$PORT" --events "$WORK/rv2.events" 2>"$WORK/rv2.err" &
PIDS+=($!)
wait_for "$WORK/rv2.events" '"event":"listening"' 10
# The listener's next keepalive (every 15 s) meets a rendezvous that does not know it.
wait_for "$WORK/rv2.events" "\"event\":\"registered\",\"peer\":\"$L_ID\"" 40
[ "$(grep -c '"event":"registered"' "$WORK/l.events")" -ge 2 ] || fail "listener did not report re-registration"

echo "hello" | "$PUNCH" connect -r "$RV" -k "$WORK/connector.key" "$L_ID" >"$WORK/c.out" 2>"$WORK/c.err" ||
  fail "connect after restart failed: $(cat "$WORK/c.err")"
grep -q "after restart" "$WORK/c.out" || fail "no data after restart"
echo "listener re-registered after a rendezvous restart and served a new session"
