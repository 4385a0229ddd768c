#!/usr/bin/env bash
# shellcheck disable=SC2015  # "[ cond ] && ok=0 || ok=1": the assignment cannot fail
# punch netcheck behind every router type of the NAT lab, against a real
# `punch rendezvous` with its probe port on the core's rendezvous host:
#   open -> none, fw -> none, easy -> endpoint-independent with the port kept,
#   hard -> endpoint-dependent, pool -> address-varies, udpblock -> UDP blocked (exit 1).
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

# The rendezvous with its probe port, and one more rendezvous on each other address of
# the rendezvous host (main port only), used as a probe destination on another IP.
lab_spawn rv rv timeout 120 "$PUNCH" rendezvous -l "$LAB_RV:$RV_PORT" --probe-port "$PROBE_PORT" \
  --events "$LAB_WORK/rv.events"
OTHER_RVS=("${LAB_RV_ADDRS[@]:1}")
for a in "${OTHER_RVS[@]}"; do
  lab_spawn rv "rv-$a" timeout 120 "$PUNCH" rendezvous -l "$a:$RV_PORT" --probe-port off \
    --events "$LAB_WORK/rv-$a.events"
done
lab_wait_for "$LAB_WORK/rv.events" '"event":"listening"' 10
for a in "${OTHER_RVS[@]}"; do lab_wait_for "$LAB_WORK/rv-$a.events" '"event":"listening"' 10; done
grep -q "\"probe_address\":\"$LAB_RV:$PROBE_PORT\"" "$LAB_WORK/rv.events" && ok=0 || ok=1
result rv "probe port $PROBE_PORT listening on $LAB_RV" "$ok" "$(grep -m1 listening "$LAB_WORK/rv.events" | sed 's/.*"address"/"address"/')"
SETUP_S=$SECONDS
RV="$LAB_RV:$RV_PORT"

# --- open and fw: no NAT, the host's own address both times ------------------------
for t in open fw; do
  netcheck "$t" -r "$RV"
  want=$(lab_host_addr "$t")
  [ "$NC_RC" = 0 ] && [ "$(field 'j["udp"]')" = True ] && [ "$(field 'j["mapping"]')" = none ] &&
    [ "$(field 'j["reflexive"] == [j["local"], j["local"]]')" = True ] &&
    [ "$(ip_of "$(field 'j["local"]')")" = "$want" ] && ok=0 || ok=1
  result "$t" "mapping none, reflexive = local ($want)" "$ok" "$(summary)"
done

# --- easy: one public address for both ports, the local port kept -----------------
netcheck easy -r "$RV"
wan=$(lab_wan_addr easy)
[ "$NC_RC" = 0 ] && [ "$(field 'j["mapping"]')" = endpoint-independent ] &&
  [ "$(field 'j["port_preserved"]')" = True ] &&
  [ "$(ip_of "$(field 'j["reflexive"][0]')")" = "$wan" ] && ok=0 || ok=1
result easy "endpoint-independent, port kept, via $wan" "$ok" "$(summary)"

# --- hard: the router's address, another port per destination ----------------------
netcheck hard -r "$RV"
wan=$(lab_wan_addr hard)
[ "$NC_RC" = 0 ] && [ "$(field 'j["mapping"]')" = endpoint-dependent ] &&
  [ "$(ip_of "$(field 'j["reflexive"][0]')")" = "$wan" ] &&
  [ "$(ip_of "$(field 'j["reflexive"][1]')")" = "$wan" ] && ok=0 || ok=1
result hard "endpoint-dependent, via $wan" "$ok" "$(summary)"

# --- pool ----------------------------------------------------------------------------
# Linux picks the pool address from a hash of (source, destination) address
# (tests/lab/README.md), so two ports of one rendezvous IP share an address and look
# like a hard NAT; that is what the default probe port reports, correctly.
netcheck pool -r "$RV"
[ "$NC_RC" = 0 ] && [ "$(field 'j["mapping"]')" = endpoint-dependent ] &&
  in_pool pool "$(ip_of "$(field 'j["reflexive"][0]')")" && ok=0 || ok=1
result pool "same rendezvous IP: endpoint-dependent, in pool" "$ok" "$(summary)"
# A probe destination on another IP tells the pool apart. Which two destinations
# land on two different pool addresses is up to the hash (4 addresses: 3 in 4 pairs
# do), so the check tries the other rendezvous addresses in order until one does,
# and every try must report a NAT that maps per destination.
pool_ok=1
pool_detail=""
bad=0
for a in "${OTHER_RVS[@]}"; do
  netcheck pool -r "$RV" --probe "$a:$RV_PORT"
  m=$(field 'j["mapping"]')
  pool_detail="$pool_detail $a:$m"
  in_pool pool "$(ip_of "$(field 'j["reflexive"][0]')")" &&
    in_pool pool "$(ip_of "$(field 'j["reflexive"][1]')")" || bad=$((bad + 1))
  case $m in
    address-varies)
      pool_ok=0
      pool_summary=$(summary)
      break
      ;;
    endpoint-dependent) ;;
    *) bad=$((bad + 1)) ;;
  esac
done
[ "$pool_ok" = 0 ] && [ "$bad" = 0 ] && ok=0 || ok=1
result pool "another rendezvous IP: address-varies" "$ok" "${pool_summary:-none of:$pool_detail}"

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
