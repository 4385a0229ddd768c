#!/usr/bin/env bash
# 50 MB of random bytes each way through rendezvous + listen + connect, at once,
# with sha256 compared, both exits 0, and the --events lines a monitor relies on.
source "$(dirname "$0")/lib.sh"

SIZE_MB=${PUNCH_TRANSFER_MB:-50}
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$WORK/a.bin"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$WORK/b.bin"

start_rendezvous
L_ID=$(keygen listener)
C_ID=$(keygen connector)

"$PUNCH" listen -r "$RV" -k "$WORK/listener.key" --allow "$C_ID" --events "$WORK/l.events" \
  <"$WORK/b.bin" >"$WORK/l.out" 2>"$WORK/l.err" &
L_PID=$!; PIDS+=($L_PID)
wait_for "$WORK/l.events" '"event":"registered"' 10

start=$(date +%s.%N)
"$PUNCH" connect -r "$RV" -k "$WORK/connector.key" "$L_ID" --events "$WORK/c.events" \
  <"$WORK/a.bin" >"$WORK/c.out" 2>"$WORK/c.err" &
C_PID=$!; PIDS+=($C_PID)

wait_pid $C_PID 120 || fail "connector exited $?"
wait_pid $L_PID 30 || fail "listener exited $?"
end=$(date +%s.%N)

[ "$(sha256sum <"$WORK/a.bin")" = "$(sha256sum <"$WORK/l.out")" ] || fail "connector->listener bytes differ"
[ "$(sha256sum <"$WORK/b.bin")" = "$(sha256sum <"$WORK/c.out")" ] || fail "listener->connector bytes differ"

for ev in registered session_up path stream_open stream_close session_down; do
  grep -q "\"event\":\"$ev\"" "$WORK/c.events" || fail "connector events lack $ev"
  grep -q "\"event\":\"$ev\"" "$WORK/l.events" || fail "listener events lack $ev"
done
grep -q '"via":"relay"' "$WORK/c.events" || fail "session_up lacks via relay"
grep -q "\"peer\":\"$L_ID\"" "$WORK/c.events" || fail "connector events do not name the listener"
grep -q -E '^\{"ts":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z"' "$WORK/c.events" || fail "ts not RFC 3339 with ms"

secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
echo "transferred ${SIZE_MB} MB each way through the relay in ${secs} s; sha256 equal"
