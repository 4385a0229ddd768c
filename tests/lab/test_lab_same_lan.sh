#!/usr/bin/env bash
# Same LAN: listener and connector are two hosts behind one easy router. Asserts:
#   - 10 MB each way, sent once the session is up, arrive intact; both ends exit 0;
#   - no hairpin, counted by nftables on the router: no packet routed from the LAN back
#     into the LAN (this router cannot hairpin: a datagram to its own public address
#     is answered with port unreachable), and during the transfer the datagrams from
#     the LAN to the router's public address (what a hairpinning NAT would turn
#     around) carry under 1 % of the bytes moved: probes of the peer's reflexive
#     candidate are fine (they are printed), data is not;
#   - direct path (judged apart, PUNCH_LAB_DIRECT=soft only reports): each side's last
#     path event is direct to the other's LAN address (198.51.100.x), and the 10 MB
#     sent after that do not leave the site (UDP out of the router's wan during the
#     transfer is under a tenth of the bytes moved).
# Run as root: PUNCH_BIN=build/punch PUNCH_TOOLS=build bash tests/lab/test_lab_same_lan.sh
set -euo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$LAB_DIR/lab.sh"

lab_init
PUNCH=${PUNCH_BIN:?PUNCH_BIN must point at the punch binary}
SIZE_MB=10
DIRECT_WAIT=10   # s from starting connect to a direct path on both sides
TRANSFER_MAX=60  # s for both streams to arrive
EXIT_MAX=20      # s for both ends to exit once stdin closes
LIFETIME=120     # s any punch process here may live (timeout -s TERM)

lab_site_two_hosts s easy
lab_rendezvous 7000
WAN=$(lab_wan_addr s)
H1=$(lab_host_addr s 1)
H2=$(lab_host_addr s 2)
# Counted from now on, for the whole session (priority -150: before the router's
# filter and NAT, so dropped datagrams count too).
lab_count s hairpin_attempt prerouting iifname '"lan"' ip daddr "$WAN" meta l4proto udp
lab_count s hairpin_routed forward iifname '"lan"' oifname '"lan"'
lab_count s udp_out forward iifname '"lan"' oifname '"wan"' meta l4proto udp

head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$LAB_WORK/a.bin"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$LAB_WORK/b.bin"
L_ID=$(lab_keygen listener)
C_ID=$(lab_keygen connector)
W=$LAB_WORK
# Both ends send only once "go" exists (after the path is settled), and keep stdin
# open until "release", so the session outlives the transfer until the test is done.
send_cmd() { # send_cmd FILE: the lab_io.py send command line for one end's stdin
  echo python3 "$LAB_IO" send "$1" --start-file "$W/go" --start-max "$((DIRECT_WAIT + 5))" \
    --hold-file "$W/release" --hold-max "$((LIFETIME - 10))"
}
lab_spawn s/h1 listener timeout "$LIFETIME" bash -c \
  "set -o pipefail; $(send_cmd "$W/b.bin") | \"\$@\" >\"$W/l.out\"" _ \
  "$PUNCH" listen -r "$LAB_RV_ENDPOINT" -k "$W/listener.key" --allow "$C_ID" \
  --events "$W/l.events" -v
L_PID=$LAB_LAST_PID
lab_wait_for "$W/l.events" '"event":"registered"' 10
T0=$(lab_now)
lab_spawn s/h2 connector timeout "$LIFETIME" bash -c \
  "set -o pipefail; $(send_cmd "$W/a.bin") | \"\$@\" >\"$W/c.out\"" _ \
  "$PUNCH" connect -r "$LAB_RV_ENDPOINT" -k "$W/connector.key" "$L_ID" \
  --events "$W/c.events" -v
C_PID=$LAB_LAST_PID
lab_wait_for "$W/c.events" '"event":"session_up"' 10

# --- direct over the LAN -----------------------------------------------------------
C_DIRECT=$(lab_wait_path "$W/c.events" direct "$DIRECT_WAIT" "$T0") || C_DIRECT=""
L_DIRECT=$(lab_wait_path "$W/l.events" direct 2 "$T0") || L_DIRECT=""
TTD=-
L_TTD=-
[ -z "$C_DIRECT" ] || TTD=$(lab_elapsed "$T0" "${C_DIRECT%% *}")
[ -z "$L_DIRECT" ] || L_TTD=$(lab_elapsed "$T0" "${L_DIRECT%% *}")
sleep 1 # a direct path that does not last shows in the last path event

# --- the transfer, after the path settled --------------------------------------------
read -r OUT_P0 OUT_B0 <<<"$(lab_count_read s udp_out)"
read -r HP_P0 HP_B0 <<<"$(lab_count_read s hairpin_attempt)"
touch "$W/go"
TX0=$(lab_now)
SIZE=$((SIZE_MB * 1024 * 1024))
done_at=""
for ((n = 0; n < TRANSFER_MAX * 10; n++)); do
  lsz=$(stat -c %s "$W/l.out" 2>/dev/null || echo 0)
  csz=$(stat -c %s "$W/c.out" 2>/dev/null || echo 0)
  if [ "$lsz" -ge "$SIZE" ] && [ "$csz" -ge "$SIZE" ]; then done_at=$(lab_now); break; fi
  { kill -0 "$C_PID" && kill -0 "$L_PID"; } 2>/dev/null || break
  sleep 0.1
done
read -r OUT_P1 OUT_B1 <<<"$(lab_count_read s udp_out)"
read -r HP_P1 HP_B1 <<<"$(lab_count_read s hairpin_attempt)"
C_LAST=$(lab_last_path "$W/c.events")
L_LAST=$(lab_last_path "$W/l.events")
touch "$W/release"
C_RC=0
L_RC=0
lab_wait_pid "$C_PID" "$EXIT_MAX" || C_RC=$?
lab_wait_pid "$L_PID" "$EXIT_MAX" || L_RC=$?
read -r HP_P _ <<<"$(lab_count_read s hairpin_attempt)"
read -r HR_P _ <<<"$(lab_count_read s hairpin_routed)"

XFER=-
[ -n "$done_at" ] && XFER=$(lab_elapsed "$TX0" "$done_at")
echo "same LAN ($LAB_PREFIX), two hosts behind one easy router ($WAN):"
echo "  listener $H1, connector $H2"
echo "  time to direct after starting connect:   connector ${TTD} s, listener ${L_TTD} s"
echo "  connector's last path:                   $C_LAST (history $(lab_path_history "$W/c.events"))"
echo "  listener's last path:                    $L_LAST (history $(lab_path_history "$W/l.events"))"
echo "  ${SIZE_MB} MB each way after the path settled:    ${XFER} s"
echo "  UDP out of the site during the transfer: $((OUT_P1 - OUT_P0)) packets, $((OUT_B1 - OUT_B0)) bytes"
echo "  to the router's public address from the LAN: $HP_P datagrams in all, $((HP_P1 - HP_P0)) ($((HP_B1 - HP_B0)) bytes) during the transfer"
echo "  hairpinned (routed LAN->LAN):            $HR_P packets"
echo "  total ${SECONDS}s"

# --- verdicts ------------------------------------------------------------------------
[ -n "$done_at" ] || lab_fail "transfer incomplete: listener got $lsz, connector got $csz of $SIZE bytes"
[ "$C_RC" = 0 ] || lab_fail "connector exited $C_RC"
[ "$L_RC" = 0 ] || lab_fail "listener exited $L_RC"
[ "$(sha256sum <"$W/a.bin")" = "$(sha256sum <"$W/l.out")" ] || lab_fail "connector->listener bytes differ"
[ "$(sha256sum <"$W/b.bin")" = "$(sha256sum <"$W/c.out")" ] || lab_fail "listener->connector bytes differ"
[ $(((HP_B1 - HP_B0) * 100)) -lt $((2 * SIZE)) ] ||
  lab_fail "hairpin: $((HP_B1 - HP_B0)) bytes from the LAN to the router's public address $WAN during the transfer"
[ "$HR_P" = 0 ] || lab_fail "hairpin: the router routed $HR_P packet(s) from the LAN back into it"

want_c="direct $H1"
want_l="direct $H2"
[[ $C_LAST == "$want_c":* ]] ||
  lab_direct_fail "same LAN (easy, $H2 -> $H1): connector's last path is '$C_LAST', want direct to $H1:PORT"
[[ $L_LAST == "$want_l":* ]] ||
  lab_direct_fail "same LAN (easy, $H1 <- $H2): listener's last path is '$L_LAST', want direct to $H2:PORT"
moved=$((2 * SIZE))
[ $(((OUT_B1 - OUT_B0) * 10)) -lt "$moved" ] ||
  lab_direct_fail "same LAN (easy): $((OUT_B1 - OUT_B0)) UDP bytes left the site while $moved bytes moved: the data did not stay on the LAN"
lab_direct_verdict
echo "PASS"
