#!/usr/bin/env bash
# shellcheck disable=SC2015  # "[ a ] && [ b ] || lab_fail": lab_fail runs if either fails
# Failover and mapping lifetime, two easy x easy pairs in one lab, run side by side.
#
# Failover (sites fa, fb; listener behind fa, connector behind fb): a transfer paced to
# last ~15 s (3 MB at 200 KB/s, connector -> listener) is running; once the path is
# direct, the core drops all UDP between the two sites (not to the rendezvous).
#   - a path=relay event follows on both sides within 3 s of the rule;
#   - the transfer completes intact (sha256), both ends exit 0 at the end;
#   - after the rule is deleted, path=direct comes back on both sides (within 90 s);
#     the time it took is printed.
# Mapping lifetime (sites ma, mb; conntrack UDP timeouts 10 s / 20 s (stream) on both
# routers): a session with a TCP forward (connect -N -L to an echo server beside the
# listener) reaches direct, then stays idle for 90 s.
#   - then a request through the forward is answered within 1 s;
#   - the last path event is still direct, and no path=relay event came after the
#     first direct one (no fallback during the idle period).
# The assertions about the direct path are judged apart (lab_direct_fail): with
# PUNCH_LAB_DIRECT=soft they are reported without failing, and every step still runs.
# Without it, a failover pair that never goes direct skips the steps that need a
# direct path (there is nothing to fail over from).
# Run as root: PUNCH_BIN=build/punch PUNCH_TOOLS=build bash tests/lab/test_lab_failover.sh
set -euo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$LAB_DIR/lab.sh"

lab_init
PUNCH=${PUNCH_BIN:?PUNCH_BIN must point at the punch binary}
DIRECT_WAIT=10      # s from starting connect to the first direct path
FALLBACK_MAX=3      # s from the blocking rule to path=relay (the spec)
FALLBACK_WATCH=6    # s we watch for it, so a late fallback is measured, not just missed
REDIRECT_MAX=90     # s from deleting the rule to path=direct again
IDLE=90             # s the mapping pair stays idle
ANSWER_MAX_MS=1000  # the answer after the idle period
RATE=200000         # B/s of the paced transfer
SIZE=3000000        # B: 15 s at RATE
DRAIN_MAX=60        # s for the paced transfer to arrive once it was all sent
EXIT_MAX=20         # s for the ends to exit once their stdin closes
LIFETIME=250        # s any process here may live (timeout -s TERM); CTest stops at 300
LAB_RV_LIFETIME=$LIFETIME
ECHO_PORT=9000
FWD_PORT=9100
W=$LAB_WORK

lab_site fa easy
lab_site fb easy
lab_site ma easy
lab_site mb easy
lab_udp_timeouts ma 10 20
lab_udp_timeouts mb 10 20
lab_rendezvous 7000
FL_ID=$(lab_keygen f-listener)
FC_ID=$(lab_keygen f-connector)
ML_ID=$(lab_keygen m-listener)
MC_ID=$(lab_keygen m-connector)
head -c "$SIZE" /dev/urandom >"$W/f.bin"

# --- mapping pair: up, direct, then idle (the request is sent IDLE s later) ----------
lab_spawn ma m-echo python3 "$LAB_IO" echo-server 127.0.0.1 "$ECHO_PORT" --lifetime "$LIFETIME"
lab_wait_for "$W/m-echo.log" '^listening' 10
lab_spawn ma m-listener timeout "$LIFETIME" "$PUNCH" listen -N -r "$LAB_RV_ENDPOINT" \
  -k "$W/m-listener.key" --allow "$MC_ID" --events "$W/m-l.events" -v
M_L_PID=$LAB_LAST_PID
lab_wait_for "$W/m-l.events" '"event":"registered"' 10
M_T0=$(lab_now)
lab_spawn mb m-connector timeout "$LIFETIME" "$PUNCH" connect -N -r "$LAB_RV_ENDPOINT" \
  -k "$W/m-connector.key" "$ML_ID" -L "127.0.0.1:$FWD_PORT:127.0.0.1:$ECHO_PORT" \
  --events "$W/m-c.events" -v
M_C_PID=$LAB_LAST_PID
lab_wait_for "$W/m-c.events" '"event":"forward"' 10
M_DIRECT=$(lab_wait_path "$W/m-c.events" direct "$DIRECT_WAIT" "$M_T0") || M_DIRECT=""
M_TTD=-
if [ -n "$M_DIRECT" ]; then
  M_TTD=$(lab_elapsed "$M_T0" "${M_DIRECT%% *}")
else
  lab_direct_fail "mapping pair easy x easy: no path=direct within ${DIRECT_WAIT}s of connect;" \
    "connector saw: $(lab_path_history "$W/m-c.events") (last: $(lab_last_path "$W/m-c.events"))"
fi
M_IDLE_FROM=$(lab_now)
lab_spawn mb m-ask python3 "$LAB_IO" ask 127.0.0.1 "$FWD_PORT" --delay "$IDLE" --timeout 5 \
  --payload "ping after ${IDLE}s idle"
M_ASK_PID=$LAB_LAST_PID

# --- failover pair -------------------------------------------------------------------
lab_spawn fa f-listener timeout "$LIFETIME" bash -c "set -o pipefail; \"\$@\" </dev/null |
  python3 \"$LAB_IO\" recv \"$W/f-l.out\" --expect $SIZE --done \"$W/f-l.done\"" _ \
  "$PUNCH" listen -r "$LAB_RV_ENDPOINT" -k "$W/f-listener.key" --allow "$FC_ID" \
  --events "$W/f-l.events" -v
F_L_PID=$LAB_LAST_PID
lab_wait_for "$W/f-l.events" '"event":"registered"' 10
F_T0=$(lab_now)
lab_spawn fb f-connector timeout "$LIFETIME" bash -c \
  "set -o pipefail; python3 \"$LAB_IO\" send \"$W/f.bin\" --rate $RATE --hold-file \"$W/f-release\" \
    --hold-max $((LIFETIME - 10)) | \"\$@\" >/dev/null" _ \
  "$PUNCH" connect -r "$LAB_RV_ENDPOINT" -k "$W/f-connector.key" "$FL_ID" \
  --events "$W/f-c.events" -v
F_C_PID=$LAB_LAST_PID

F_DIRECT=$(lab_wait_path "$W/f-c.events" direct "$DIRECT_WAIT" "$F_T0") || F_DIRECT=""
F_TTD=-
F_RUN_DIRECT_STEPS=1
if [ -n "$F_DIRECT" ]; then
  F_TTD=$(lab_elapsed "$F_T0" "${F_DIRECT%% *}")
  # The listener may report its own switch a moment later.
  lab_wait_path "$W/f-l.events" direct 3 "$F_T0" >/dev/null ||
    lab_direct_fail "failover pair easy x easy: connector went direct, the listener did not" \
      "within 3 s; listener saw: $(lab_path_history "$W/f-l.events")"
else
  lab_direct_fail "failover pair easy x easy: no path=direct within ${DIRECT_WAIT}s of connect;" \
    "connector saw: $(lab_path_history "$W/f-c.events") (last: $(lab_last_path "$W/f-c.events"))"
  lab_direct_soft || F_RUN_DIRECT_STEPS=0
fi

FB_C=- FB_L=- REDIRECT_C=- REDIRECT_L=- F_BLOCKED_AT=-
if [ "$F_RUN_DIRECT_STEPS" = 1 ]; then
  F_BLOCKED_AT=$(lab_elapsed "$F_T0")
  BLOCK_T=$(lab_now)
  lab_block_udp_between fa fb
  # fallback_time EVENTS: seconds from the rule to the first path=relay after it, or "-".
  fallback_time() {
    local hit
    hit=$(lab_wait_path "$1" relay "$FALLBACK_WATCH" "$BLOCK_T") || { echo -; return; }
    lab_elapsed "$BLOCK_T" "${hit%% *}"
  }
  FB_C=$(fallback_time "$W/f-c.events")
  FB_L=$(fallback_time "$W/f-l.events")
  for side in connector:"$FB_C":f-c listener:"$FB_L":f-l; do
    IFS=: read -r who took ev <<<"$side"
    if [ "$took" = - ] || awk -v t="$took" -v m="$FALLBACK_MAX" 'BEGIN { exit !(t > m) }'; then
      lab_direct_fail "failover pair easy x easy, $who: no path=relay within ${FALLBACK_MAX}s" \
        "of blocking UDP between the sites (took: $took s); paths: $(lab_path_history "$W/$ev.events")," \
        "last $(lab_last_path "$W/$ev.events")"
    fi
  done
fi

# The transfer completes intact (over the relay once the direct path is cut).
F_DONE=""
for ((n = 0; n < (SIZE / RATE + DRAIN_MAX) * 10; n++)); do
  [ -s "$W/f-l.done" ] && { F_DONE=$(cat "$W/f-l.done"); break; }
  { kill -0 "$F_C_PID" && kill -0 "$F_L_PID"; } 2>/dev/null || break
  sleep 0.1
done
[ -n "$F_DONE" ] || lab_fail "failover pair: the paced transfer did not complete: listener got" \
  "$(stat -c %s "$W/f-l.out" 2>/dev/null || echo 0) of $SIZE bytes"
F_XFER=$(lab_elapsed "$F_T0" "$F_DONE")
cmp -s "$W/f.bin" "$W/f-l.out" || lab_fail "failover pair: the transfer arrived corrupted (cmp)"

if [ "$F_RUN_DIRECT_STEPS" = 1 ]; then
  UNBLOCK_T=$(lab_now)
  lab_unblock_udp_between fa fb
  # Both sides wait from the same instant, within REDIRECT_MAX in all.
  if hit=$(lab_wait_path "$W/f-c.events" direct "$REDIRECT_MAX" "$UNBLOCK_T"); then
    REDIRECT_C=$(lab_elapsed "$UNBLOCK_T" "${hit%% *}")
  else
    lab_direct_fail "failover pair easy x easy, connector: no path=direct within ${REDIRECT_MAX}s" \
      "of deleting the rule; paths: $(lab_path_history "$W/f-c.events"), last $(lab_last_path "$W/f-c.events")"
  fi
  left=$(awk -v a="$UNBLOCK_T" -v b="$(lab_now)" -v m="$REDIRECT_MAX" \
    'BEGIN { l = m - (b - a); print (l > 3 ? int(l) : 3) }')
  if hit=$(lab_wait_path "$W/f-l.events" direct "$left" "$UNBLOCK_T"); then
    REDIRECT_L=$(lab_elapsed "$UNBLOCK_T" "${hit%% *}")
  else
    lab_direct_fail "failover pair easy x easy, listener: no path=direct within ${REDIRECT_MAX}s" \
      "of deleting the rule; paths: $(lab_path_history "$W/f-l.events"), last $(lab_last_path "$W/f-l.events")"
  fi
fi
touch "$W/f-release"
F_C_RC=0
F_L_RC=0
lab_wait_pid "$F_C_PID" "$EXIT_MAX" || F_C_RC=$?
lab_wait_pid "$F_L_PID" "$EXIT_MAX" || F_L_RC=$?
[ "$F_C_RC" = 0 ] || lab_fail "failover pair: connector exited $F_C_RC"
[ "$F_L_RC" = 0 ] || lab_fail "failover pair: listener exited $F_L_RC"

# --- mapping pair: the request after the idle period ---------------------------------
M_ASK_RC=0
lab_wait_pid "$M_ASK_PID" "$((IDLE + 30))" || M_ASK_RC=$?
M_ANSWER=$(grep -v '^asking at' "$W/m-ask.log" || true)
M_ASKED_AT=$(sed -n 's/^asking at //p' "$W/m-ask.log")
M_MS=$(sed -n 's/^answered in \([0-9]*\) ms$/\1/p' <<<"$M_ANSWER")
M_LAST=$(lab_last_path "$W/m-c.events")
M_L_LAST=$(lab_last_path "$W/m-l.events")
# Path events of either side after the first direct one (the idle period and the
# request): any relay among them is a fallback.
M_RELAY_AFTER=-
if [ -n "$M_DIRECT" ]; then
  M_RELAY_AFTER=$(cat <(lab_paths "$W/m-c.events") <(lab_paths "$W/m-l.events") |
    awk -v t="${M_DIRECT%% *}" '$1 > t && $2 == "relay" { n++ } END { print n + 0 }')
fi
lab_stop "$M_C_PID"
lab_stop "$M_L_PID"

echo "failover and mapping lifetime ($LAB_PREFIX), easy x easy"
echo "failover pair (listener fa, connector fb; ${SIZE} B paced at ${RATE} B/s):"
echo "  time to direct (connector):                  ${F_TTD} s after connect"
echo "  UDP between the sites blocked at:            ${F_BLOCKED_AT} s after connect"
echo "  fallback to relay after the rule:            connector ${FB_C} s, listener ${FB_L} s (max ${FALLBACK_MAX} s)"
echo "  transfer complete and intact:                ${F_XFER} s after connect"
echo "  direct again after deleting the rule:        connector ${REDIRECT_C} s, listener ${REDIRECT_L} s (max ${REDIRECT_MAX} s)"
echo "  paths: connector $(lab_path_history "$W/f-c.events"), listener $(lab_path_history "$W/f-l.events")"
echo "mapping pair (conntrack UDP timeouts 10 s / 20 s on both routers):"
echo "  time to direct (connector):                  ${M_TTD} s after connect"
echo "  idle from direct (or ${DIRECT_WAIT} s) to the request:  $([ -n "$M_ASKED_AT" ] && lab_elapsed "$M_IDLE_FROM" "$M_ASKED_AT" || echo -) s"
echo "  request after ${IDLE} s idle:                     ${M_ANSWER:-nothing} (exit $M_ASK_RC; max ${ANSWER_MAX_MS} ms)"
echo "  relay path events after the first direct:    ${M_RELAY_AFTER}"
echo "  last path: connector $M_LAST, listener $M_L_LAST"
echo "total ${SECONDS}s"

[ "$M_ASK_RC" = 0 ] && [ -n "$M_MS" ] ||
  lab_fail "mapping pair: no answer after ${IDLE}s idle: ${M_ANSWER:-nothing}"
[ "$M_MS" -le "$ANSWER_MAX_MS" ] ||
  lab_fail "mapping pair: the answer after ${IDLE}s idle took ${M_MS} ms (max ${ANSWER_MAX_MS})"
if [ -n "$M_DIRECT" ]; then
  [ "$M_RELAY_AFTER" = 0 ] ||
    lab_direct_fail "mapping pair easy x easy: $M_RELAY_AFTER path=relay event(s) after going direct" \
      "(the mapping died while idle?); connector paths $(lab_path_history "$W/m-c.events")," \
      "listener $(lab_path_history "$W/m-l.events")"
  [[ $M_LAST == direct* ]] ||
    lab_direct_fail "mapping pair easy x easy: connector's last path after the idle period is $M_LAST"
  [[ $M_L_LAST == direct* ]] ||
    lab_direct_fail "mapping pair easy x easy: listener's last path after the idle period is $M_L_LAST"
fi
lab_direct_verdict
echo "PASS"
