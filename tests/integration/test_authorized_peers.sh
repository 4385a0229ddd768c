#!/usr/bin/env bash
# IDs in $PUNCH_HOME/authorized_peers (one a line, comments allowed) may connect;
# others are refused; a malformed line is reported and ignored.
source "$(dirname "$0")/lib.sh"

start_rendezvous
L_ID=$(keygen listener)
OK_ID=$(keygen listed)
keygen unlisted >/dev/null
mkdir -p "$PUNCH_HOME"
printf '# peers allowed to connect\n\n  %s  \nnot-an-id\n' "$OK_ID" >"$PUNCH_HOME/authorized_peers"

echo "from listener" >"$WORK/l.in"
"$PUNCH" listen -r "$RV" -k "$WORK/listener.key" --events "$WORK/l.events" \
  <"$WORK/l.in" >"$WORK/l.out" 2>"$WORK/l.err" &
L_PID=$!; PIDS+=($L_PID)
wait_for "$WORK/l.events" '"event":"registered"' 10
grep -q "authorized_peers:4: not a punch ID" "$WORK/l.err" || fail "malformed line not reported: $(cat "$WORK/l.err")"

set +e
"$PUNCH" connect -r "$RV" -k "$WORK/unlisted.key" "$L_ID" </dev/null >/dev/null 2>"$WORK/u.err"
rc=$?
set -e
[ $rc -ne 0 ] && grep -q "not authorized" "$WORK/u.err" || fail "unlisted peer not refused (rc=$rc)"

echo "from listed" | "$PUNCH" connect -r "$RV" -k "$WORK/listed.key" "$L_ID" >"$WORK/c.out" 2>"$WORK/c.err" ||
  fail "listed peer refused: $(cat "$WORK/c.err")"
wait_pid $L_PID 20 || fail "listener exited $?"
grep -q "from listener" "$WORK/c.out" && grep -q "from listed" "$WORK/l.out" || fail "data missing"
echo "authorized_peers honoured"
