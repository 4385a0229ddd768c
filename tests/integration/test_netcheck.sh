#!/usr/bin/env bash
# punch netcheck on loopback: against a rendezvous with a probe port it reports
# UDP working, no NAT (both ports saw the local address) and exits 0; with the
# probe port off it still works and says the mapping cannot be compared; against
# dead ports it fails clearly, exit 1, within its 3 s bound; the probe addresses of a
# rendezvous with --probe-address are learnt and probed, and bad ones refused.
source "$(dirname "$0")/lib.sh"

# json FILE EXPR: evaluates a Python expression over the JSON object j in FILE.
json() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

start_rendezvous
PROBE=$(grep -m1 '"event":"listening"' "$WORK/rv.events" | sed 's/.*"probe_address":"\([^"]*\)".*/\1/')
[[ $PROBE == 127.0.0.1:* ]] || fail "no probe_address in the listening event: $(cat "$WORK/rv.events")"
[ "$PROBE" != "$RV" ] || fail "probe port equals the main port"
grep -q "probe port $PROBE" "$WORK/rv.err" || fail "rendezvous does not log its probe port"

# 1. Both ports answer: UDP works, no NAT, port kept, the local address is the one seen.
set +e
"$PUNCH" netcheck -r "$RV" --probe "$PROBE" --json >"$WORK/ok.json" 2>"$WORK/ok.err"
rc=$?
set -e
[ $rc -eq 0 ] || fail "netcheck exit $rc: $(cat "$WORK/ok.err")"
[ "$(wc -l <"$WORK/ok.json")" -eq 1 ] || fail "--json printed more than one line"
[ "$(json "$WORK/ok.json" 'j["udp"]')" = True ] || fail "udp not true: $(cat "$WORK/ok.json")"
[ "$(json "$WORK/ok.json" 'j["mapping"]')" = none ] || fail "mapping not none: $(cat "$WORK/ok.json")"
[ "$(json "$WORK/ok.json" 'j["port_preserved"]')" = True ] || fail "port not preserved"
[ "$(json "$WORK/ok.json" 'j["rendezvous"]')" = "$RV" ] || fail "rendezvous field"
[ "$(json "$WORK/ok.json" 'j["probe"]')" = "$PROBE" ] || fail "probe field"
LOCAL=$(json "$WORK/ok.json" 'j["local"]')
[[ $LOCAL == 127.0.0.1:* ]] || fail "local '$LOCAL' is not on loopback"
[ "$(json "$WORK/ok.json" 'j["reflexive"] == [j["local"], j["local"]]')" = True ] ||
  fail "reflexive addresses are not the local address: $(cat "$WORK/ok.json")"
[ "$(json "$WORK/ok.json" 'list(j) == ["udp","rendezvous","probe","other_probes","local","reflexive","mapping","port_preserved","rtt_ms"]')" = True ] ||
  fail "fields or their order changed: $(cat "$WORK/ok.json")"
[ "$(json "$WORK/ok.json" '0 < j["rtt_ms"] < 1000')" = True ] || fail "rtt_ms: $(cat "$WORK/ok.json")"

# 2. The same for people: a few short lines.
"$PUNCH" netcheck -r "$RV" --probe "$PROBE" >"$WORK/ok.txt" 2>"$WORK/ok2.err" || fail "netcheck (text) failed"
grep -q '^UDP        works, round trip ' "$WORK/ok.txt" || fail "no UDP line: $(cat "$WORK/ok.txt")"
grep -q '^mapping    none ' "$WORK/ok.txt" || fail "no mapping line: $(cat "$WORK/ok.txt")"
grep -q '^port kept  yes$' "$WORK/ok.txt" || fail "no port line: $(cat "$WORK/ok.txt")"
[ "$(wc -l <"$WORK/ok.txt")" -le 6 ] || fail "human output is longer than 6 lines"

# 3. A rendezvous without a probe port: UDP works, the probe port is reported as silent.
"$PUNCH" rendezvous -l 127.0.0.1:0 --probe-port off --events "$WORK/rv2.events" 2>"$WORK/rv2.err" &
PIDS+=($!)
wait_for "$WORK/rv2.events" '"event":"listening"' 10
RV2=$(grep -m1 '"event":"listening"' "$WORK/rv2.events" | sed 's/.*"address":"\([^"]*\)".*/\1/')
! grep -q probe_address "$WORK/rv2.events" || fail "--probe-port off still reports a probe port"
# Its default probe port would be the rendezvous's port 7778, which another server on
# this machine might own; ask a port that was free a moment ago instead.
DEAD=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
set +e
"$PUNCH" netcheck -r "$RV2" --probe "127.0.0.1:$DEAD" --json >"$WORK/half.json" 2>"$WORK/half.err"
rc=$?
set -e
[ $rc -eq 0 ] || fail "one answering port should be enough, exit $rc"
[ "$(json "$WORK/half.json" 'j["udp"] and j["reflexive"][1] is None')" = True ] ||
  fail "silent probe port not reported as null: $(cat "$WORK/half.json")"
grep -q "did not answer" "$WORK/half.err" || fail "no warning about the silent probe port"

# 4. Nothing answers: exit 1, udp false, a clear reason, within the 3 s bound.
DEAD2=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
START=$(date +%s%N)
set +e
timeout $((10 * SLOW)) "$PUNCH" netcheck -r "127.0.0.1:$DEAD" --probe "127.0.0.1:$DEAD2" --json \
  >"$WORK/dead.json" 2>"$WORK/dead.err"
rc=$?
set -e
ELAPSED_MS=$((($(date +%s%N) - START) / 1000000))
[ $rc -eq 1 ] || fail "dead rendezvous: exit $rc, want 1"
[ "$(json "$WORK/dead.json" 'j["udp"] is False and j["mapping"] == "unknown" and j["rtt_ms"] is None')" = True ] ||
  fail "dead rendezvous JSON: $(cat "$WORK/dead.json")"
grep -q "no answer from the rendezvous at 127.0.0.1:$DEAD" "$WORK/dead.err" ||
  fail "unclear message: $(cat "$WORK/dead.err")"
if [ $ELAPSED_MS -lt 2900 ] || [ $ELAPSED_MS -gt $((4500 * SLOW)) ]; then
  fail "gave up after ${ELAPSED_MS} ms, want about 3000"
fi

# 5. Probe addresses on other IPs (127.0.0.2 and .3 are loopback too): netcheck learns
# them from the rendezvous (PROBE_LIST) and probes them as well.
"$PUNCH" rendezvous -l 127.0.0.1:0 --probe-address 127.0.0.2 --probe-address 127.0.0.3:0 \
  --events "$WORK/rv3.events" 2>"$WORK/rv3.err" &
PIDS+=($!)
wait_for "$WORK/rv3.events" '"event":"listening"' 10
RV3=$(grep -m1 '"event":"listening"' "$WORK/rv3.events" | sed 's/.*"address":"\([^"]*\)".*/\1/')
PROBE3=$(grep -m1 '"event":"listening"' "$WORK/rv3.events" | sed 's/.*"probe_address":"\([^"]*\)".*/\1/')
OTHERS3=$(grep -m1 '"event":"listening"' "$WORK/rv3.events" | sed 's/.*"other_probe_addresses":"\([^"]*\)".*/\1/')
[[ $OTHERS3 == "127.0.0.2:"*" 127.0.0.3:"* ]] || fail "probe addresses not in the listening event: $(cat "$WORK/rv3.events")"
"$PUNCH" netcheck -r "$RV3" --probe "$PROBE3" --json >"$WORK/more.json" 2>"$WORK/more.err" ||
  fail "netcheck against probe addresses failed: $(cat "$WORK/more.err")"
[ "$(json "$WORK/more.json" '" ".join(j["other_probes"])')" = "$OTHERS3" ] ||
  fail "other_probes is not what the rendezvous listens on ($OTHERS3): $(cat "$WORK/more.json")"
[ "$(json "$WORK/more.json" 'len(j["reflexive"]) == 4 and all(r == j["local"] for r in j["reflexive"]) and j["mapping"] == "none"')" = True ] ||
  fail "probe addresses not probed or not answered: $(cat "$WORK/more.json")"
# Bad --probe-address: usage errors exit 2, an IP not of this host exits 1.
set +e
"$PUNCH" rendezvous -l 127.0.0.1:0 --probe-address 127.0.0.2 --probe-address 127.0.0.3 \
  --probe-address 127.0.0.4 --probe-address 127.0.0.5 --probe-address 127.0.0.6 2>"$WORK/five.err"
rc5=$?
"$PUNCH" rendezvous -l 127.0.0.1:0 --probe-address 0.0.0.0 2>"$WORK/any.err"
rc_any=$?
timeout $((10 * SLOW)) "$PUNCH" rendezvous -l 127.0.0.1:0 --probe-address 192.0.2.99 2>"$WORK/foreign.err"
rc_foreign=$?
set -e
[ $rc5 -eq 2 ] && grep -q "at most 4 --probe-address" "$WORK/five.err" ||
  fail "5 probe addresses: exit $rc5, $(cat "$WORK/five.err")"
[ $rc_any -eq 2 ] && grep -q "specific IP" "$WORK/any.err" ||
  fail "wildcard probe address: exit $rc_any, $(cat "$WORK/any.err")"
[ $rc_foreign -eq 1 ] && grep -q "probe address 192.0.2.99:0" "$WORK/foreign.err" ||
  fail "probe address not of this host: exit $rc_foreign, $(cat "$WORK/foreign.err")"

echo "netcheck: loopback reports udp, no NAT, local $LOCAL; probe port off tolerated; dead ports fail with exit 1 after ${ELAPSED_MS} ms; probe addresses on 127.0.0.2-3 learnt and probed"
