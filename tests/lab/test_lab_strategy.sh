#!/usr/bin/env bash
# shellcheck disable=SC2015  # "[ a ] && [ b ] && ok=0 || ok=1": the assignment cannot fail
# The pair's strategy in the NAT lab, against `punch rendezvous` with its default probe
# port (7778 on the rendezvous IP). Two pairs side by side in one lab, each a session
# held open (-N) for HOLD s, long enough for the 35 s probing rounds to show:
#   - hard x hard (sites ha, hb): both ends write a strategy event "relay" with
#     endpoint-dependent on both sides, the session stays on the relay, and nft
#     counters on the two routers see no UDP leave towards another site and none
#     arrive from one: no probing between the sites at all;
#   - pool x easy (sites pl, ez): a Linux pool (`snat to A-B`) hashes source and
#     destination *addresses*, so both ports of the one rendezvous IP see the same pool
#     address and the pool side measures endpoint-dependent (docs/netcheck.md); the
#     pair gets "birthday" (probed as direct until the birthday prober exists) and
#     ends on the relay, as before. Checked as that, and the probe counts printed:
#     telling this pool apart needs a probe destination on a second IP.
# Every strategy event is printed.
# Run as root: PUNCH_BIN=build/punch bash tests/lab/test_lab_strategy.sh
set -euo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$LAB_DIR/lab.sh"

lab_init
PUNCH=${PUNCH_BIN:?PUNCH_BIN must point at the punch binary}
HOLD=45      # s each session is held after session_up (one slow round would show)
UP_MAX=15    # s from connect to session_up
LIFETIME=150 # s any process here may live; CTest stops at 300
LAB_RV_LIFETIME=$LIFETIME
W=$LAB_WORK
SITES_NET=203.0.113.0/24 # every site's WAN side; the rendezvous is in 192.0.2.0/24

lab_site ha hard
lab_site hb hard
lab_site pl pool
lab_site ez easy
lab_rendezvous 7000
grep -q "\"probe_address\":\"$LAB_RV:7778\"" "$W/rv.events" ||
  lab_fail "the rendezvous has no probe port on $LAB_RV:7778: $(cat "$W/rv.events")"

# UDP from this site's LAN towards another site, and from another site into this one.
for s in ha hb pl ez; do
  lab_count "$s" to_sites forward iifname "lan" meta l4proto udp ip daddr "$SITES_NET"
  lab_count "$s" from_sites prerouting iifname "wan" meta l4proto udp ip saddr "$SITES_NET"
done

# start_pair NAME LSITE CSITE: a held session, listener behind LSITE, connector behind CSITE.
start_pair() {
  local name=$1 ls=$2 cs=$3 l_id c_id
  l_id=$(lab_keygen "$name-listener")
  c_id=$(lab_keygen "$name-connector")
  lab_spawn "$ls" "$name-listener" timeout "$LIFETIME" "$PUNCH" listen -N -r "$LAB_RV_ENDPOINT" \
    -k "$W/$name-listener.key" --allow "$c_id" --events "$W/$name-l.events" -v
  lab_wait_for "$W/$name-l.events" '"event":"registered"' 10
  lab_spawn "$cs" "$name-connector" timeout "$LIFETIME" "$PUNCH" connect -N -r "$LAB_RV_ENDPOINT" \
    -k "$W/$name-connector.key" "$l_id" --events "$W/$name-c.events" -v
}
start_pair hh ha hb
start_pair pe pl ez
for f in hh-l hh-c pe-l pe-c; do lab_wait_for "$W/$f.events" '"event":"session_up"' "$UP_MAX"; done
for f in hh-l hh-c pe-l pe-c; do lab_wait_for "$W/$f.events" '"event":"strategy"' 10; done
sleep "$HOLD"

# field FILE EVENT KEY: KEY of the last EVENT in an --events file.
field() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
last = None
for line in open(sys.argv[1]):
    j = json.loads(line)
    if j.get("event") == sys.argv[2]:
        last = j
print(last.get(sys.argv[3], "-") if last else "-")
PY
}
packets() { lab_count_read "$1" "$2" | awk '{ print $1 }'; }

FAILED=0
check() { # check OK DESCRIPTION
  if [ "$1" = 0 ]; then echo "PASS  $2"; else
    echo "FAIL  $2"
    FAILED=$((FAILED + 1))
  fi
}

echo "strategy events:"
grep -h '"event":"strategy"' "$W"/hh-l.events "$W"/hh-c.events "$W"/pe-l.events "$W"/pe-c.events |
  sed 's/^/  /'

# --- hard x hard -------------------------------------------------------------------
for f in hh-l hh-c; do
  [ "$(field "$W/$f.events" strategy strategy)" = relay ] &&
    [ "$(field "$W/$f.events" strategy local_mapping)" = endpoint-dependent ] &&
    [ "$(field "$W/$f.events" strategy peer_mapping)" = endpoint-dependent ] && ok=0 || ok=1
  check "$ok" "hard x hard $f: strategy relay, both endpoint-dependent"
  [ "$(lab_path_history "$W/$f.events")" = relay ] && ok=0 || ok=1
  check "$ok" "hard x hard $f: path history $(lab_path_history "$W/$f.events")"
done
for s in ha hb; do
  out=$(packets "$s" to_sites)
  in=$(packets "$s" from_sites)
  [ "$out" = 0 ] && [ "$in" = 0 ] && ok=0 || ok=1
  check "$ok" "hard x hard router $s: UDP to other sites $out, from other sites $in (no probing)"
done

# --- pool x easy -------------------------------------------------------------------
[ "$(field "$W/pe-l.events" strategy local_mapping)" = endpoint-dependent ] &&
  [ "$(field "$W/pe-c.events" strategy local_mapping)" = endpoint-independent ] &&
  [ "$(field "$W/pe-l.events" strategy strategy)" = birthday ] &&
  [ "$(field "$W/pe-c.events" strategy strategy)" = birthday ] && ok=0 || ok=1
check "$ok" "pool x easy: the Linux pool measures endpoint-dependent from one IP: birthday"
for f in pe-l pe-c; do
  [ "$(lab_last_path "$W/$f.events" | awk '{ print $1 }')" = relay ] && ok=0 || ok=1
  check "$ok" "pool x easy $f: on the relay (history $(lab_path_history "$W/$f.events"))"
done
echo "pool x easy probing (birthday probes as direct for now): pool router sent" \
  "$(packets pl to_sites) and got $(packets pl from_sites) UDP packets to/from other sites," \
  "easy router sent $(packets ez to_sites) and got $(packets ez from_sites)"

[ "$FAILED" = 0 ] || lab_fail "$FAILED check(s) failed"
echo "strategy lab: all checks passed"
