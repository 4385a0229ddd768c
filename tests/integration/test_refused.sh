#!/usr/bin/env bash
# A connector whose ID the listener does not allow is refused: it exits non-zero
# naming the reason, the listener logs the refused ID and keeps serving others.
source "$(dirname "$0")/lib.sh"

start_rendezvous
L_ID=$(keygen listener)
GOOD_ID=$(keygen good)
BAD_ID=$(keygen bad)

echo "hello from listener" >"$WORK/l.in"
"$PUNCH" listen -r "$RV" -k "$WORK/listener.key" --allow "$GOOD_ID" --events "$WORK/l.events" \
  <"$WORK/l.in" >"$WORK/l.out" 2>"$WORK/l.err" &
L_PID=$!; PIDS+=($L_PID)
wait_for "$WORK/l.events" '"event":"registered"' 10

set +e
echo "let me in" | "$PUNCH" connect -r "$RV" -k "$WORK/bad.key" "$L_ID" >"$WORK/bad.out" 2>"$WORK/bad.err"
rc=$?
set -e
[ $rc -ne 0 ] || fail "refused connector exited 0"
grep -q "refused" "$WORK/bad.err" || fail "refused connector's message does not say refused: $(cat "$WORK/bad.err")"
grep -q "not authorized" "$WORK/bad.err" || fail "message does not name the reason: $(cat "$WORK/bad.err")"
[ ! -s "$WORK/bad.out" ] || fail "refused connector received data"
grep -q "$BAD_ID" "$WORK/l.err" || fail "listener did not log the refused ID"
grep -q '"event":"refused"' "$WORK/l.events" || fail "no refused event"

# An unknown peer ID is a clear failure too, not a hang.
OTHER_ID=$(keygen nobody)
set +e
"$PUNCH" connect -r "$RV" -k "$WORK/good.key" "$OTHER_ID" </dev/null >/dev/null 2>"$WORK/unknown.err"
rc=$?
set -e
[ $rc -ne 0 ] || fail "connect to an unregistered ID exited 0"
grep -qi "no listener" "$WORK/unknown.err" || fail "unknown peer message unclear: $(cat "$WORK/unknown.err")"

# The listener is still serving: the allowed connector gets through.
echo "hello from connector" | "$PUNCH" connect -r "$RV" -k "$WORK/good.key" "$L_ID" >"$WORK/good.out" 2>"$WORK/good.err" ||
  fail "allowed connector failed: $(cat "$WORK/good.err")"
grep -q "hello from listener" "$WORK/good.out" || fail "allowed connector got no data"
wait_pid $L_PID 20 || fail "listener exited $?"
grep -q "hello from connector" "$WORK/l.out" || fail "listener got no data"
echo "refusal and unknown peer reported; allowed peer served"
