#!/usr/bin/env bash
# Two connectors sharing one key, at once, each to its own listener: both
# transfers are intact; neither disturbs the other's registration or session.
source "$(dirname "$0")/lib.sh"

start_rendezvous
C_ID=$(keygen shared)
for n in 1 2; do
  keygen "l$n" >"$WORK/l$n.id"
  head -c $((4 * 1024 * 1024)) /dev/urandom >"$WORK/in$n.bin"
  head -c $((4 * 1024 * 1024)) /dev/urandom >"$WORK/back$n.bin"
  "$PUNCH" listen -r "$RV" -k "$WORK/l$n.key" --allow "$C_ID" --events "$WORK/l$n.events" \
    <"$WORK/back$n.bin" >"$WORK/l$n.out" 2>"$WORK/l$n.err" &
  PIDS+=($!); eval "L${n}_PID=$!"
done
wait_for "$WORK/l1.events" '"event":"registered"' 10
wait_for "$WORK/l2.events" '"event":"registered"' 10

for n in 1 2; do
  "$PUNCH" connect -r "$RV" -k "$WORK/shared.key" "$(cat "$WORK/l$n.id")" \
    <"$WORK/in$n.bin" >"$WORK/c$n.out" 2>"$WORK/c$n.err" &
  PIDS+=($!); eval "C${n}_PID=$!"
done
wait_pid $C1_PID 60 || fail "connector 1 exited $?"
wait_pid $C2_PID 60 || fail "connector 2 exited $?"
wait_pid $L1_PID 20 || fail "listener 1 exited $?"
wait_pid $L2_PID 20 || fail "listener 2 exited $?"
for n in 1 2; do
  cmp -s "$WORK/in$n.bin" "$WORK/l$n.out" || fail "transfer $n connector->listener corrupted"
  cmp -s "$WORK/back$n.bin" "$WORK/c$n.out" || fail "transfer $n listener->connector corrupted"
done
echo "two connectors with one key: both transfers intact"
