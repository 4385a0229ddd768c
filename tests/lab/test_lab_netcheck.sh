#!/usr/bin/env bash
# shellcheck disable=SC2015  # "[ cond ] && ok=0 || ok=1": the assignment cannot fail
# punch netcheck behind every router type of the NAT lab, against a real
# `punch rendezvous` with its probe port and 4 probe addresses on the rendezvous host:
#   open -> none, fw -> none, easy -> endpoint-independent with the port kept,
#   hard -> endpoint-dependent, pool -> address-varies (learning the rendezvous's probe
#   addresses on 4 other IPs; endpoint-dependent against a rendezvous with one IP),
#   udpblock -> UDP blocked (exit 1).
# Run as root: PUNCH_BIN=build/punch bash tests/lab/test_lab_netcheck.sh
# Exits 0 when every check passes, 1 otherwise, 77 (skipped) without root/namespaces.
set -euo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$LAB_DIR/lab.sh"

lab_init
PUNCH=${PUNCH_BIN:-}
[ -n "$PUNCH" ] && [ -x "$PUNCH" ] || lab_fail "set PUNCH_BIN to the punch binary (got '$PUNCH')"
command -v python3 >/dev/null || lab_skip "python3 is needed to read the JSON output"

RV_PORT=7777
PROBE_PORT=7778
RUN_S=10 # upper bound for one netcheck (it gives up after 3 s by itself)

RESULTS=()
FAILED=0
# result SITE CHECK OK(0/1) DETAIL: records one row of the summary table.
result() {
  local status=PASS
  if [ "$3" != 0 ]; then
    status=FAIL
    FAILED=$((FAILED + 1))
  fi
  RESULTS+=("$(printf '%-4s  %-9s %-44s %s' "$status" "$1" "$2" "$4")")
}

# netcheck SITE ARGS...: runs punch netcheck --json on SITE's host; sets NC_OUT (the
# JSON), NC_RC, NC_MS (wall time) and NC_ERR (stderr).
netcheck() {
  local site=$1 start
  shift
  start=$(date +%s%N)
  NC_RC=0
  NC_OUT=$(lab_exec "$site" timeout "$RUN_S" "$PUNCH" netcheck --json "$@" 2>"$LAB_WORK/nc.err") ||
    NC_RC=$?
  NC_MS=$((($(date +%s%N) - start) / 1000000))
  NC_ERR=$(cat "$LAB_WORK/nc.err")
}
# field EXPR: a Python expression over the last JSON object j.
field() { python3 -c 'import json, sys; j = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$NC_OUT" "$1" 2>/dev/null || echo "?"; }
summary() { echo "rc $NC_RC, mapping $(field 'j["mapping"]'), seen $(field '" ".join(str(a) for a in j["reflexive"])'), local $(field 'j["local"]'), ${NC_MS} ms"; }
ip_of() { echo "${1%:*}"; }
in_pool() { # in_pool SITE IP
  local first last ip=${2##*.}
  first=$(lab_pool_first "$1")
  last=$(lab_pool_last "$1")
  [[ $2 == "${first%.*}".* ]] && [ "$ip" -ge "${first##*.}" ] && [ "$ip" -le "${last##*.}" ]
}

# --- the lab ---------------------------------------------------------------------
SITES="open fw easy hard pool udpblock"
for t in $SITES; do lab_site "$t" "$t"; done

# The rendezvous with its probe port and probe addresses on 4 other IPs of the
# rendezvous host (which netcheck learns from it), and a second rendezvous on one
# more IP with its probe port only: what a rendezvous with one IP shows.
OTHER_IPS=("${LAB_RV_ADDRS[@]:1:4}")
ONE_IP=${LAB_RV_ADDRS[5]}
PROBE_ARGS=()
for a in "${OTHER_IPS[@]}"; do PROBE_ARGS+=(--probe-address "$a"); done
lab_spawn rv rv timeout 120 "$PUNCH" rendezvous -l "$LAB_RV:$RV_PORT" --probe-port "$PROBE_PORT" \
  "${PROBE_ARGS[@]}" --events "$LAB_WORK/rv.events"
lab_spawn rv rv-one-ip timeout 120 "$PUNCH" rendezvous -l "$ONE_IP:$RV_PORT" \
  --probe-port "$PROBE_PORT" --events "$LAB_WORK/rv-one-ip.events"
lab_wait_for "$LAB_WORK/rv.events" '"event":"listening"' 10
lab_wait_for "$LAB_WORK/rv-one-ip.events" '"event":"listening"' 10
grep -q "\"probe_address\":\"$LAB_RV:$PROBE_PORT\"" "$LAB_WORK/rv.events" && ok=0 || ok=1
result rv "probe port $PROBE_PORT listening on $LAB_RV" "$ok" "$(grep -m1 listening "$LAB_WORK/rv.events" | sed 's/.*"address"/"address"/')"
want_others=$(printf "%s:$PROBE_PORT " "${OTHER_IPS[@]}")
grep -q "\"other_probe_addresses\":\"${want_others% }\"" "$LAB_WORK/rv.events" && ok=0 || ok=1
result rv "probe addresses on ${OTHER_IPS[*]}" "$ok" "$(grep -m1 listening "$LAB_WORK/rv.events" | sed 's/.*"other_probe_addresses"/"other_probe_addresses"/')"
SETUP_S=$SECONDS
RV="$LAB_RV:$RV_PORT"

# --- open and fw: no NAT, the host's own address both times ------------------------
for t in open fw; do
  netcheck "$t" -r "$RV"
  want=$(lab_host_addr "$t")
  [ "$NC_RC" = 0 ] && [ "$(field 'j["udp"]')" = True ] && [ "$(field 'j["mapping"]')" = none ] &&
    [ "$(field 'len(j["reflexive"]) == 6 and all(r == j["local"] for r in j["reflexive"])')" = True ] &&
    [ "$(ip_of "$(field 'j["local"]')")" = "$want" ] && ok=0 || ok=1
  result "$t" "mapping none, reflexive = local ($want)" "$ok" "$(summary)"
done

# --- easy: one public address for both ports, the local port kept -----------------
netcheck easy -r "$RV"
wan=$(lab_wan_addr easy)
[ "$NC_RC" = 0 ] && [ "$(field 'j["mapping"]')" = endpoint-independent ] &&
  [ "$(field 'j["port_preserved"]')" = True ] &&
  [ "$(field 'len(j["reflexive"]) == 6 and len(set(j["reflexive"])) == 1')" = True ] &&
  [ "$(ip_of "$(field 'j["reflexive"][0]')")" = "$wan" ] && ok=0 || ok=1
result easy "endpoint-independent, port kept, via $wan" "$ok" "$(summary)"

# --- hard: the router's address, another port per destination ----------------------
netcheck hard -r "$RV"
wan=$(lab_wan_addr hard)
[ "$NC_RC" = 0 ] && [ "$(field 'j["mapping"]')" = endpoint-dependent ] &&
  [ "$(ip_of "$(field 'j["reflexive"][0]')")" = "$wan" ] &&
  [ "$(ip_of "$(field 'j["reflexive"][1]')")" = "$wan" ] &&
  [ "$(field 'len(j["reflexive"]) == 6 and len(set(a.rsplit(":", 1)[0] for a in j["reflexive"])) == 1')" = True ] &&
  ok=0 || ok=1
result hard "endpoint-dependent, via $wan" "$ok" "$(summary)"

# --- pool ----------------------------------------------------------------------------
# Linux picks the pool address from a hash of (source, destination) address
# (tests/lab/README.md), so two ports of one rendezvous IP share an address and look
# like a hard NAT: that is what a rendezvous with one IP reports, correctly.
netcheck pool -r "$ONE_IP:$RV_PORT"
[ "$NC_RC" = 0 ] && [ "$(field 'j["mapping"]')" = endpoint-dependent ] &&
  [ "$(field 'j["other_probes"]')" = "[]" ] &&
  in_pool pool "$(ip_of "$(field 'j["reflexive"][0]')")" && ok=0 || ok=1
result pool "one rendezvous IP: endpoint-dependent, in pool" "$ok" "$(summary)"
# The rendezvous with probe addresses on 4 other IPs tells the pool apart with nothing
# but -r: netcheck learns the addresses from it. Each other IP hashes to the main IP's
# pool address with probability 1/4, all 4 with 1/256; the hash has no secret, so for
# this address plan the result is the same on every run.
netcheck pool -r "$RV"
[ "$NC_RC" = 0 ] && [ "$(field 'j["mapping"]')" = address-varies ] &&
  [ "$(field '" ".join(j["other_probes"])')" = "${want_others% }" ] &&
  [ "$(field 'all(r is not None for r in j["reflexive"])')" = True ] && ok=0 || ok=1
for i in 0 1 2 3 4 5; do
  in_pool pool "$(ip_of "$(field "j[\"reflexive\"][$i]")")" || ok=1
done
result pool "-r alone, probe addresses on 4 other IPs: address-varies" "$ok" "$(summary)"

# --- udpblock: nothing answers; exit 1 with udp false, within the 3 s bound ----------
netcheck udpblock -r "$RV"
[ "$NC_RC" = 1 ] && [ "$(field 'j["udp"]')" = False ] && [ "$NC_MS" -ge 2900 ] &&
  [ "$NC_MS" -le 5000 ] && grep -q "UDP is blocked" <<<"$NC_ERR" && ok=0 || ok=1
result udpblock "UDP blocked: exit 1 after about 3 s" "$ok" "$(summary); stderr: ${NC_ERR#punch: }"

# --- summary ---------------------------------------------------------------------
echo "NAT lab netcheck ($LAB_PREFIX): setup ${SETUP_S}s, total ${SECONDS}s"
printf '%-4s  %-9s %-44s %s\n' "" site check detail
printf '%s\n' "${RESULTS[@]}"
[ "$SECONDS" -le 120 ] || lab_fail "took ${SECONDS}s, the budget is 120s"
[ "$FAILED" = 0 ] || lab_fail "$FAILED check(s) failed"
echo "PASS: ${#RESULTS[@]} checks"
