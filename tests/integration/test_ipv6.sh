#!/usr/bin/env bash
# The same session over IPv6: rendezvous, listener and connector on [::1].
source "$(dirname "$0")/lib.sh"

"$PUNCH" rendezvous -l '[::1]:0' --events "$WORK/rv.events" 2>"$WORK/rv.err" &
RV_PID=$!; PIDS+=($RV_PID)
# No IPv6 on this machine's loopback: say so and count as skipped.
(set +o pipefail; timeout $((10 * SLOW)) tail -n +1 -F "$WORK/rv.events" 2>/dev/null | grep -q -m1 '"event":"listening"') ||
  { grep -q "cannot bind" "$WORK/rv.err" && skip "no IPv6 on loopback: $(cat "$WORK/rv.err")"; fail "rendezvous did not start"; }
RV=$(grep -m1 '"event":"listening"' "$WORK/rv.events" | sed 's/.*"address":"\([^"]*\)".*/\1/')
[[ "$RV" == "[::1]:"* ]] || fail "rendezvous address '$RV' is not IPv6"

L_ID=$(keygen listener)
C_ID=$(keygen connector)
echo "over v6, back" >"$WORK/l.in"
"$PUNCH" listen -r "$RV" -k "$WORK/listener.key" --allow "$C_ID" --events "$WORK/l.events" \
  <"$WORK/l.in" >"$WORK/l.out" 2>"$WORK/l.err" &
L_PID=$!; PIDS+=($L_PID)
wait_for "$WORK/l.events" '"event":"registered"' 10
grep -q '"address":"\[::1\]:' "$WORK/l.events" || fail "reflexive address is not IPv6"
echo "over v6" | "$PUNCH" connect -r "$RV" -k "$WORK/connector.key" "$L_ID" >"$WORK/c.out" 2>"$WORK/c.err" ||
  fail "connect over IPv6 failed: $(cat "$WORK/c.err")"
wait_pid $L_PID 20 || fail "listener exited $?"
grep -q "over v6, back" "$WORK/c.out" && grep -q "over v6" "$WORK/l.out" || fail "data missing"
echo "session over IPv6 ($RV) intact"
