#!/usr/bin/env bash
# A packet capture during a transfer of a known payload does not contain the
# payload: the relay sees only ciphertext (--relay-only), and so does anyone on
# the direct path the session moves to by default.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root for tcpdump"
command -v tcpdump >/dev/null || skip "tcpdump not installed"

start_rendezvous
RV_PORT=${RV##*:}
L_ID=$(keygen listener)
C_ID=$(keygen connector)
# A recognisable payload: the same 32-byte marker, many times.
MARKER="PUNCH-PLAINTEXT-MARKER-0123456789"
for i in $(seq 1 20000); do echo "$MARKER"; done >"$WORK/payload.txt"
payload=$(stat -c %s "$WORK/payload.txt")

# capture NAME FILTER PATH [punch options...]: one transfer, captured with FILTER;
# the session's last path event must name PATH.
capture() {
  local name=$1 filter=$2 want=$3
  shift 3
  tcpdump -i lo -U -w "$WORK/$name.pcap" -s 0 "$filter" 2>"$WORK/$name.tcpdump.err" &
  local td=$!
  PIDS+=($td)
  wait_for "$WORK/$name.tcpdump.err" "listening on" 10
  "$PUNCH" listen -r "$RV" -k "$WORK/listener.key" --allow "$C_ID" --events "$WORK/$name.l.events" \
    "$@" </dev/null >"$WORK/$name.l.out" 2>"$WORK/$name.l.err" &
  local l=$!
  PIDS+=($l)
  wait_for "$WORK/$name.l.events" '"event":"registered"' 10
  "$PUNCH" connect -r "$RV" -k "$WORK/connector.key" "$L_ID" --events "$WORK/$name.c.events" "$@" \
    <"$WORK/payload.txt" >/dev/null 2>"$WORK/$name.c.err" ||
    fail "$name: connector failed: $(cat "$WORK/$name.c.err")"
  wait_pid $l 20 || fail "$name: listener exited $?"
  cmp -s "$WORK/payload.txt" "$WORK/$name.l.out" || fail "$name: payload did not arrive intact"
  kill -INT $td
  wait $td 2>/dev/null || true
  local last
  last=$(grep '"event":"path"' "$WORK/$name.c.events" | tail -1)
  [[ $last == *"\"path\":\"$want\""* ]] || fail "$name: last path event is not $want: ${last:-none}"
  local captured
  captured=$(stat -c %s "$WORK/$name.pcap")
  # The capture must have seen the transfer. punch sends runs of datagrams as one
  # UDP GSO packet, which the capture on lo may record shorter than the segments
  # it becomes; so ask for more than half the payload, which the handshake and
  # headers alone are not.
  [ "$captured" -gt $((payload / 2)) ] ||
    fail "$name: capture too small ($captured bytes) to have seen the transfer"
  # ...and never the plaintext, not even a fragment of the marker.
  if grep -a -q "PLAINTEXT-MARKER" "$WORK/$name.pcap"; then fail "$name: plaintext visible"; fi
  echo "$name: capture of $captured bytes holds no plaintext of the $payload-byte payload"
}

capture relay "udp port $RV_PORT" relay --relay-only
capture direct "udp and not port $RV_PORT" direct
