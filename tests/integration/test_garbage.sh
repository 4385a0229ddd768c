#!/usr/bin/env bash
# 10,000 random and truncated datagrams at the rendezvous while a session runs:
# the session completes intact and the rendezvous still serves new clients.
source "$(dirname "$0")/lib.sh"
FLOOD="$TOOLS/udp_flood"
[ -x "$FLOOD" ] || fail "udp_flood tool not built at $FLOOD"

start_rendezvous
L_ID=$(keygen listener)
C_ID=$(keygen connector)
head -c $((8 * 1024 * 1024)) /dev/urandom >"$WORK/a.bin"
mkfifo "$WORK/a.fifo"

"$PUNCH" listen -r "$RV" -k "$WORK/listener.key" --allow "$C_ID" --events "$WORK/l.events" \
  </dev/null >"$WORK/l.out" 2>"$WORK/l.err" &
L_PID=$!; PIDS+=($L_PID)
wait_for "$WORK/l.events" '"event":"registered"' 10

"$PUNCH" connect -r "$RV" -k "$WORK/connector.key" "$L_ID" --events "$WORK/c.events" \
  <"$WORK/a.fifo" >"$WORK/c.out" 2>"$WORK/c.err" &
C_PID=$!; PIDS+=($C_PID)
exec 3>"$WORK/a.fifo"
wait_for "$WORK/c.events" '"event":"session_up"' 20

# The session is up; send the first half, flood, send the rest.
head -c $((4 * 1024 * 1024)) "$WORK/a.bin" >&3
"$FLOOD" "${RV%:*}" "${RV##*:}" 10000 7 || fail "flood tool failed"
tail -c +$((4 * 1024 * 1024 + 1)) "$WORK/a.bin" >&3
exec 3>&-

wait_pid $C_PID 60 || fail "connector exited $?"
wait_pid $L_PID 20 || fail "listener exited $?"
cmp -s "$WORK/a.bin" "$WORK/l.out" || fail "transfer corrupted during the flood"
kill -0 "$RV_PID" 2>/dev/null || fail "rendezvous died"

# Still serving: a new listener registers.
keygen late >/dev/null
"$PUNCH" listen -r "$RV" -k "$WORK/late.key" --allow-any --events "$WORK/late.events" \
  </dev/null >/dev/null 2>"$WORK/late.err" &
PIDS+=($!)
wait_for "$WORK/late.events" '"event":"registered"' 10
echo "session intact and rendezvous serving after 10,000 garbage datagrams"
