#!/usr/bin/env bash
# shellcheck disable=SC2015  # "[ cond ] && ok=0 || ok=1": the assignment cannot fail
# Smoke test for the NAT lab itself (not for punch): builds one site of every router
# type and proves each behaves as named, with tests/tools/udp_probe as a STUN-like
# reflector on the rendezvous host. Run as root:
#   PUNCH_TOOLS=/path/to/build bash tests/lab/test_lab_topology.sh
# Exits 0 when every check passes, 1 otherwise, 77 (skipped) without root/namespaces.
set -euo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$LAB_DIR/lab.sh"

lab_init
PROBE=${PUNCH_TOOLS:-}/udp_probe
if [ -z "${PUNCH_TOOLS:-}" ] || [ ! -x "$PROBE" ]; then
  lab_fail "udp_probe not found: set PUNCH_TOOLS to the build directory (got '${PUNCH_TOOLS:-}')"
fi

# Bounds: the lab has no delay, so an answer takes well under a millisecond; these are
# generous upper bounds, not expectations. A "dropped" verdict waits QUIET_MS.
ANSWER_MS=2000 # wait for an expected answer (4 tries spread over it)
QUIET_MS=500   # wait that proves a datagram was dropped
LINGER_MS=400  # listen on after the first answer for a second one
RV_PORT=7000
RV_ALT_PORT=7001
HOST_PORT=6000

RESULTS=()
FAILED=0
# result SITE CHECK OK(0/1) DETAIL: records one row of the summary table.
result() {
  local status=PASS
  if [ "$3" != 0 ]; then
    status=FAIL
    FAILED=$((FAILED + 1))
  fi
  RESULTS+=("$(printf '%-4s  %-9s %-47s %s' "$status" "$1" "$2" "$4")")
}

# ask SPEC HOST PORT OPTS...: udp_probe ask in SPEC's namespace; sets ASK_OUT, ASK_RC.
ask() {
  local spec=$1
  shift
  ASK_RC=0
  ASK_OUT=$(lab_exec "$spec" "$PROBE" ask "$@" 2>&1) || ASK_RC=$?
}
# The reflexive address in the first answer ("SRC seen IP:PORT"), or "none".
seen() { awk '/ seen /{print $3; found=1; exit} END{if(!found) print "none"}' <<<"$ASK_OUT"; }
# Lines of ASK_OUT answered from source port $1.
answers_from_port() { grep -c -- ":$1 seen " <<<"$ASK_OUT" || true; }
# Datagrams an echo log (NAME) has received so far.
got_count() { grep -c '^got ' "$LAB_WORK/$1.log" || true; }
in_pool() { # in_pool SITE IP
  local first last ip=${2##*.}
  first=$(lab_pool_first "$1")
  last=$(lab_pool_last "$1")
  [[ $2 == "${first%.*}".* ]] && [ "$ip" -ge "${first##*.}" ] && [ "$ip" -le "${last##*.}" ]
}

# --- the lab ---------------------------------------------------------------------
SITES="open fw easy hard pool udpblock"
for t in $SITES; do
  if [ "$t" = easy ]; then lab_site_two_hosts easy easy; else lab_site "$t" "$t"; fi
done
SETUP_S=$SECONDS

lab_spawn rv rv "$PROBE" echo "$RV_PORT" --alt-port "$RV_ALT_PORT" --lifetime 60
for s in open fw easy hard easy/h2; do
  lab_spawn "$s" "echo-${s/\//-}" "$PROBE" echo "$HOST_PORT" --lifetime 60
done
for log in rv echo-open echo-fw echo-easy echo-hard echo-easy-h2; do
  lab_wait_for "$LAB_WORK/$log.log" '^listening' 5
done

# --- 1. reach the rendezvous; the reflexive address is the router's public one ---
for t in open fw; do
  ask "$t" "$LAB_RV" "$RV_PORT" --from-port 40001 --timeout "$ANSWER_MS" --tries 4
  want="$(lab_host_addr "$t"):40001"
  [ "$(seen)" = "$want" ] && ok=0 || ok=1
  result "$t" "reaches rv, seen as own public address" "$ok" "seen $(seen), want $want"
done

ask easy "$LAB_RV" "$RV_PORT" --from-port 40001 --timeout "$ANSWER_MS" --tries 4
want="$(lab_wan_addr easy):40001"
[ "$(seen)" = "$want" ] && ok=0 || ok=1
result easy "reaches rv, router address, port preserved" "$ok" "seen $(seen), want $want"
ask easy "${LAB_RV_ADDRS[1]}" "$RV_PORT" --from-port 40001 --timeout "$ANSWER_MS" --tries 4
[ "$(seen)" = "$want" ] && ok=0 || ok=1
result easy "same mapping to a second destination" "$ok" "seen $(seen)"

# Three destinations: fully-random ports could collide by chance (1 in 64k), so at
# least two different ports are required.
declare -A hard_ports=()
hard_seen=""
bad=0
for a in "${LAB_RV_ADDRS[@]:0:3}"; do
  ask hard "$a" "$RV_PORT" --from-port 40001 --timeout "$ANSWER_MS" --tries 4
  s=$(seen)
  [ "${s%:*}" = "$(lab_wan_addr hard)" ] || bad=$((bad + 1))
  hard_ports[${s##*:}]=1
  hard_seen="$hard_seen $s"
done
[ $bad = 0 ] && ok=0 || ok=1
result hard "reaches rv, seen as router address" "$ok" "seen$hard_seen"
[ $bad = 0 ] && [ ${#hard_ports[@]} -ge 2 ] && ok=0 || ok=1
result hard "new external port per destination" "$ok" \
  "${#hard_ports[@]} distinct ports for 3 destinations from port 40001"

# Pool: Linux picks the pool address from a hash of (source, destination) address,
# so it varies with the destination; the port is random per mapping.
declare -A pool_addrs=() pool_ports=()
bad=0
for a in "${LAB_RV_ADDRS[@]}"; do
  ask pool "$a" "$RV_PORT" --from-port 40001 --timeout "$ANSWER_MS" --tries 4
  s=$(seen)
  in_pool pool "${s%:*}" || bad=$((bad + 1))
  pool_addrs[${s%:*}]=1
done
[ $bad = 0 ] && [ ${#pool_addrs[@]} -ge 2 ] && ok=0 || ok=1
result pool "reaches rv, addresses vary over destinations" "$ok" \
  "${#pool_addrs[@]} pool addresses over ${#LAB_RV_ADDRS[@]} destinations, $bad outside the pool"
declare -A port_addrs=()
bad=0
for p in 41001 41002 41003 41004 41005 41006 41007 41008; do
  ask pool "$LAB_RV" "$RV_PORT" --from-port "$p" --timeout "$ANSWER_MS" --tries 4
  s=$(seen)
  in_pool pool "${s%:*}" || bad=$((bad + 1))
  port_addrs[${s%:*}]=1
  pool_ports[${s##*:}]=1
done
[ $bad = 0 ] && [ ${#pool_ports[@]} -ge 7 ] && ok=0 || ok=1
result pool "8 source ports: 8 random mappings in the pool" "$ok" \
  "${#pool_ports[@]} distinct ports, ${#port_addrs[@]} address(es), $bad outside the pool"

ask udpblock "$LAB_RV" "$RV_PORT" --from-port 40001 --timeout "$QUIET_MS"
[ "$ASK_RC" = 1 ] && ok=0 || ok=1
result udpblock "UDP to rv dropped" "$ok" "ask exit $ASK_RC (1 = no answer)"
ping_ok=1
lab_exec udpblock ping -n -q -c 1 -W 2 "$LAB_RV" >/dev/null 2>&1 && ping_ok=0
result udpblock "ICMP (ping) to rv passes" "$ping_ok" "ping -c 1 $LAB_RV"

# --- 2. filtering: only the endpoint a host sent to gets in ------------------------
# "alt" makes the rendezvous answer from port 7000 and also from 7001, which the host
# never sent to: open lets both in (control), fw/easy/hard only the first.
for t in open fw easy hard; do
  ask "$t" "$LAB_RV" "$RV_PORT" --from-port 40002 --payload alt --timeout "$ANSWER_MS" \
    --tries 4 --linger "$LINGER_MS"
  main=$(answers_from_port "$RV_PORT")
  alt=$(answers_from_port "$RV_ALT_PORT")
  if [ "$t" = open ]; then
    [ "$main" -ge 1 ] && [ "$alt" -ge 1 ] && ok=0 || ok=1
    result "$t" "answer from an unsent-to port arrives" "$ok" "from :$RV_PORT $main, from :$RV_ALT_PORT $alt"
  else
    [ "$main" -ge 1 ] && [ "$alt" = 0 ] && ok=0 || ok=1
    result "$t" "answer from an unsent-to port dropped" "$ok" "from :$RV_PORT $main, from :$RV_ALT_PORT $alt"
  fi
done
# LAB.md trap 1: the "alt" answer above hit the easy router at its public port 40002
# from rv:7001 and left a conntrack entry there. Sending from 40002 to rv:7001 now
# clashes with it, so masquerade must pick another external port.
ask easy "$LAB_RV" "$RV_ALT_PORT" --from-port 40002 --timeout "$ANSWER_MS" --tries 4
s=$(seen)
[ "${s%:*}" = "$(lab_wan_addr easy)" ] && [ "${s##*:}" != 40002 ] && ok=0 || ok=1
result easy "trap 1: inbound packet moves the next mapping" "$ok" "seen $s (the port was 40002)"
# Fully unsolicited: from the rendezvous to a host's listening port (fw: its public
# address; easy/hard: the router's, where no mapping exists for it).
for t in fw easy hard; do
  before=$(got_count "echo-$t")
  if [ "$t" = fw ]; then to=$(lab_host_addr fw); else to=$(lab_wan_addr "$t"); fi
  ask rv "$to" "$HOST_PORT" --from-port 7100 --timeout "$QUIET_MS"
  after=$(got_count "echo-$t")
  [ "$ASK_RC" != 0 ] && [ "$before" = "$after" ] && ok=0 || ok=1
  result "$t" "unsolicited datagram from the core dropped" "$ok" \
    "to $to:$HOST_PORT, ask exit $ASK_RC, host got $((after - before))"
done

# --- 3. TTL: the core is a router, so TTL 2 leaves the own NAT and dies at the core --
open_addr=$(lab_host_addr open)
before=$(got_count echo-open)
ask easy "$open_addr" "$HOST_PORT" --from-port 40003 --ttl 2 --timeout "$ANSWER_MS"
after=$(got_count echo-open)
mapping=$(lab_conntrack easy -p udp --orig-port-src 40003 --orig-port-dst "$HOST_PORT" | grep -c . || true)
want="icmp time-exceeded from $(lab_core_addr easy)"
[ "$ASK_RC" = 3 ] && grep -qx "$want" <<<"$ASK_OUT" && [ "$before" = "$after" ] &&
  [ "$mapping" -ge 1 ] && ok=0 || ok=1
result easy "TTL 2: own NAT maps it, core drops it" "$ok" \
  "$(head -n1 <<<"$ASK_OUT"), open host got $((after - before)), easy router entries $mapping"

hard_wan=$(lab_wan_addr hard)
ask easy "$hard_wan" 6201 --from-port 40004 --ttl 2 --timeout "$ANSWER_MS"
ttl2=$(lab_conntrack hard -p udp --orig-port-dst 6201 | grep -c . || true)
ask easy "$hard_wan" 6202 --from-port 40005 --ttl 3 --timeout "$ANSWER_MS"
ttl3=$(lab_conntrack hard -p udp --orig-port-dst 6202 | grep -c . || true)
[ "$ttl2" = 0 ] && [ "$ttl3" -ge 1 ] && ok=0 || ok=1
result hard "TTL 2 never reaches the far router, TTL 3 does" "$ok" \
  "far router entries: TTL 2 -> $ttl2, TTL 3 -> $ttl3"

ask easy "$open_addr" "$HOST_PORT" --from-port 40006 --timeout "$ANSWER_MS" --tries 4
want="$(lab_wan_addr easy):40006"
[ "$(seen)" = "$want" ] && ok=0 || ok=1
result easy "default TTL reaches a host behind open" "$ok" "seen $(seen)"

# --- 4. same LAN: two hosts behind one router talk directly (no NAT, no hairpin) ----
ask easy/h1 "$(lab_host_addr easy 2)" "$HOST_PORT" --from-port 40007 --timeout "$ANSWER_MS" --tries 4
want="$(lab_host_addr easy 1):40007"
[ "$(seen)" = "$want" ] && ok=0 || ok=1
result easy "same-LAN hosts reach each other directly" "$ok" "seen $(seen), want $want"

# --- 5. the core can cut UDP between two sites (failover tests) ---------------------
lab_block_udp_between fw open
ask fw "$open_addr" "$HOST_PORT" --from-port 40008 --timeout "$QUIET_MS"
blocked_rc=$ASK_RC
ask fw "$LAB_RV" "$RV_PORT" --from-port 40009 --timeout "$ANSWER_MS" --tries 4
rv_rc=$ASK_RC
lab_unblock_udp_between fw open
ask fw "$open_addr" "$HOST_PORT" --from-port 40010 --timeout "$ANSWER_MS" --tries 4
[ "$blocked_rc" = 1 ] && [ "$rv_rc" = 0 ] && [ "$ASK_RC" = 0 ] && ok=0 || ok=1
result core "block/unblock UDP between fw and open" "$ok" \
  "blocked: exit $blocked_rc, rv meanwhile: exit $rv_rc, unblocked: exit $ASK_RC"

# --- 6. per-namespace conntrack UDP timeouts ---------------------------------------
timeouts() { lab_exec "$1/r" sysctl -n net.netfilter.nf_conntrack_udp_timeout \
  net.netfilter.nf_conntrack_udp_timeout_stream | tr '\n' ' ' | sed 's/ $//'; }
hard_before=$(timeouts hard)
lab_udp_timeouts easy 10 20
easy_now=$(timeouts easy)
hard_now=$(timeouts hard)
[ "$easy_now" = "10 20" ] && [ "$hard_now" = "$hard_before" ] && ok=0 || ok=1
result easy "UDP conntrack timeouts set per namespace" "$ok" \
  "easy router: $easy_now, hard router unchanged: $hard_now"

# --- summary ---------------------------------------------------------------------
echo "NAT lab topology ($LAB_PREFIX): setup ${SETUP_S}s, total ${SECONDS}s"
printf '%-4s  %-9s %-47s %s\n' "" site check detail
printf '%s\n' "${RESULTS[@]}"
[ "$SECONDS" -le 60 ] || lab_fail "took ${SECONDS}s, the budget is 60s"
[ "$FAILED" = 0 ] || lab_fail "$FAILED check(s) failed"
echo "PASS: ${#RESULTS[@]} checks"
