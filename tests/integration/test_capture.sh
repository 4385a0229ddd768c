#!/usr/bin/env bash
# A packet capture at the rendezvous during a transfer of a known payload does
# not contain the payload: the relay sees only ciphertext.
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

tcpdump -i lo -U -w "$WORK/cap.pcap" -s 0 "udp port $RV_PORT" 2>"$WORK/tcpdump.err" &
TD_PID=$!; PIDS+=($TD_PID)
wait_for "$WORK/tcpdump.err" "listening on" 10

"$PUNCH" listen -r "$RV" -k "$WORK/listener.key" --allow "$C_ID" --events "$WORK/l.events" \
  </dev/null >"$WORK/l.out" 2>"$WORK/l.err" &
L_PID=$!; PIDS+=($L_PID)
wait_for "$WORK/l.events" '"event":"registered"' 10
"$PUNCH" connect -r "$RV" -k "$WORK/connector.key" "$L_ID" <"$WORK/payload.txt" >/dev/null 2>"$WORK/c.err" ||
  fail "connector failed: $(cat "$WORK/c.err")"
wait_pid $L_PID 20 || fail "listener exited $?"
cmp -s "$WORK/payload.txt" "$WORK/l.out" || fail "payload did not arrive intact"
kill -INT $TD_PID; wait $TD_PID 2>/dev/null || true

captured=$(stat -c %s "$WORK/cap.pcap")
payload=$(stat -c %s "$WORK/payload.txt")
# The capture must have seen the transfer: it passes the relay twice (in and
# out), but punch sends runs of datagrams as one UDP GSO packet, which the
# capture on lo may record shorter than the segments it becomes; so ask for
# more than once the payload, which the handshake and headers alone are not.
[ "$captured" -gt "$payload" ] || fail "capture too small ($captured bytes) to have seen the transfer"
# ...and never the plaintext, not even a fragment of the marker.
if grep -a -q "PLAINTEXT-MARKER" "$WORK/cap.pcap"; then fail "plaintext visible at the relay"; fi
echo "capture of $captured bytes at the relay holds no plaintext of the $payload-byte payload"
