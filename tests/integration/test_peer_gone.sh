#!/usr/bin/env bash
# A listener that vanished without a word (SIGKILL) while still registered: the
# connector fails within seconds, saying the peer is unreachable.
source "$(dirname "$0")/lib.sh"

start_rendezvous
L_ID=$(keygen listener)
C_ID=$(keygen connector)
"$PUNCH" listen -r "$RV" -k "$WORK/listener.key" --allow "$C_ID" --events "$WORK/l.events" \
  </dev/null >/dev/null 2>"$WORK/l.err" &
L_PID=$!; PIDS+=($L_PID)
wait_for "$WORK/l.events" '"event":"registered"' 10
kill -KILL $L_PID; wait $L_PID 2>/dev/null || true

set +e
timeout $((30 * SLOW)) "$PUNCH" connect -r "$RV" -k "$WORK/connector.key" "$L_ID" </dev/null >/dev/null 2>"$WORK/c.err"
rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "connector exit $rc (124 = hung)"
grep -q "unreachable" "$WORK/c.err" || fail "message does not say unreachable: $(cat "$WORK/c.err")"
echo "vanished listener reported: $(tail -1 "$WORK/c.err")"
