#!/usr/bin/env bash
# Finding 5 of issue 17: a KEEPALIVE with a valid token from a new address must not
# move a registration, or the relay becomes a reflector. The keepalive_reflect tool
# registers a listener and a connector of its own, relays between them, forges the
# listener's KEEPALIVE from a "victim" address (127.0.0.66), then pushes COUNT
# 1,018-byte session packets into the relay.
#   - the victim receives no more bytes than it sent (at most an UNKNOWN, 9 bytes,
#     for its 25-byte KEEPALIVE);
#   - the listener, which did not move, still receives at least MIN_PERCENT % of the
#     relayed packets (loopback loses none; the margin is for a loaded machine).
# Before the fix the registration moved: the victim received every relayed packet.
# shellcheck source=../integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"
TOOL="$TOOLS/keepalive_reflect"
[ -x "$TOOL" ] || skip "keepalive_reflect tool not built at $TOOL"

COUNT=2000
MIN_PERCENT=90

start_rendezvous
"$TOOL" "${RV%:*}" "${RV##*:}" 127.0.0.66 "$COUNT" >"$WORK/reflect.out" 2>"$WORK/reflect.err" ||
  fail "keepalive_reflect failed: $(cat "$WORK/reflect.err")"
cat "$WORK/reflect.out"
line=$(cat "$WORK/reflect.out")
victim_sent=$(sed -n 's/.*victim sent \([0-9]*\) bytes.*/\1/p' <<<"$line")
victim_got=$(sed -n 's/.*received \([0-9]*\) bytes in.*/\1/p' <<<"$line")
listener_got=$(sed -n 's/.*listener received \([0-9]*\) of.*/\1/p' <<<"$line")
if [ -z "$victim_sent" ] || [ -z "$victim_got" ] || [ -z "$listener_got" ]; then
  fail "unexpected tool output"
fi

[ "$victim_got" -le "$victim_sent" ] ||
  fail "the relay reflected $victim_got bytes to an address that sent $victim_sent"
[ $((listener_got * 100)) -ge $((COUNT * MIN_PERCENT)) ] ||
  fail "the listener got $listener_got of $COUNT relayed packets (< $MIN_PERCENT %)"
kill -0 "$RV_PID" 2>/dev/null || fail "rendezvous died"
echo "no reflection: the victim got $victim_got bytes for $victim_sent sent; the listener kept its relay"
