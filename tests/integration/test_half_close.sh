#!/usr/bin/env bash
# Half-close like `nc -N`: EOF on the connector's stdin gives EOF on the
# listener's stdout while the other direction keeps flowing; a second connector
# meanwhile is refused because the listener's stdio is busy.
source "$(dirname "$0")/lib.sh"

start_rendezvous
L_ID=$(keygen listener)
C_ID=$(keygen connector)
keygen second >/dev/null
mkfifo "$WORK/l.in"

# Connectors start with 3>&- so that only this shell holds the listener's stdin
# fifo open: the listener sees EOF exactly when the test closes fd 3.
# The listener's stdout goes through a reader that records when it saw EOF.
"$PUNCH" listen -v -r "$RV" -k "$WORK/listener.key" --allow "$C_ID" --allow-any \
  --events "$WORK/l.events" <"$WORK/l.in" 2>"$WORK/l.err" |
  { cat >"$WORK/l.out"; echo eof >"$WORK/l.eof"; } &
L_PID=$!; PIDS+=($L_PID)
exec 3>"$WORK/l.in"
wait_for "$WORK/l.events" '"event":"registered"' 10

printf 'one-way message' | "$PUNCH" connect -r "$RV" -k "$WORK/connector.key" "$L_ID" \
  --events "$WORK/c.events" >"$WORK/c.out" 2>"$WORK/c.err" 3>&- &
C_PID=$!; PIDS+=($C_PID)

# Connector's stdin ended: the listener's stdout must reach EOF...
wait_for "$WORK/l.eof" eof 20
[ "$(cat "$WORK/l.out")" = "one-way message" ] || fail "listener got '$(cat "$WORK/l.out")'"
# ...while the connector is still running and waiting for the other direction.
kill -0 $C_PID 2>/dev/null || fail "connector exited before the other direction finished"

# A second connector is refused while stdio is busy, with the reason.
set +e
"$PUNCH" connect -r "$RV" -k "$WORK/second.key" "$L_ID" </dev/null >/dev/null 2>"$WORK/second.err" 3>&-
rc=$?
set -e
[ $rc -ne 0 ] || fail "second connector was not refused"
grep -q "busy" "$WORK/second.err" || fail "refusal does not say busy: $(cat "$WORK/second.err")"

# The other direction still flows after the half-close.
echo "reply after half-close" >&3
exec 3>&-
wait_pid $C_PID 20 || fail "connector exited $?"
grep -q "reply after half-close" "$WORK/c.out" || fail "reply lost after half-close"
echo "half-close honoured; busy listener refused a second connector"
