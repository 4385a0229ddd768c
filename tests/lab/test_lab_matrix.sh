#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016  # "[ c ] && a || b": a cannot fail; bash -c '...$1'
# scripts expand in the inner shell, on purpose
# The NAT matrix: punch between every unordered pair of router types (open, fw, easy,
# hard, pool, same-same included: 15 pairs). Per pair, in a lab of its own (core,
# rendezvous, listener site of type X, connector site of type Y):
#   - 20 MB of random bytes each way at once through one session (stdio both ways),
#     sha256 compared, both ends exit 0;
#   - time-to-first-byte: from starting `punch connect` to its first byte out;
#   - time-to-direct: from starting `punch connect` to its first path=direct event;
#   - the final path (the last path event on each side) is direct for every pair of
#     {open, fw, easy}, for hard or pool against open and for hard against easy or fw
#     (the birthday prober), relay for the rest (pool against fw, easy, hard, pool;
#     hard against hard).
# Pairs run PUNCH_LAB_MATRIX_JOBS (5) at a time, each by this script re-run with
# --pair X Y RESULT (own lab_init: own prefix, namespaces and cleanup); their
# transfers take turns (a lock), so the figures do not measure CPU contention.
# With PUNCH_LAB_DIRECT=soft a wrong final path is reported but does not fail the
# test (for checking the rest against a binary without the direct path).
# Run as root: PUNCH_BIN=build/punch PUNCH_TOOLS=build bash tests/lab/test_lab_matrix.sh
set -euo pipefail
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.sh
. "$LAB_DIR/lab.sh"

TYPES=(open fw easy hard pool)
SIZE_MB=${PUNCH_LAB_MATRIX_MB:-20}
JOBS=${PUNCH_LAB_MATRIX_JOBS:-5}
# Bounds (the lab has no delay: these are upper bounds, not expectations).
TRANSFER_MAX=60  # s for both 20 MB streams to arrive
DIRECT_WAIT=10   # s after starting connect within which a pair must go direct; pairs
                 # expected to stay relayed are watched as long, so a wrong direct shows
BIRTHDAY_WAIT=30 # s instead for hard x easy and hard x fw: port guessing (issue 6's goal:
                 # direct within 30 s; test_lab_birthday.sh measures it over 10 runs)
SETTLE=2         # s a direct path must last before the final path is read
EXIT_MAX=20      # s for both ends to exit once the connector's stdin closes
LOCK_MAX=90      # s a pair may wait for its turn to transfer
PAIR_MAX=150     # s for one pair, setup and cleanup included (timeout -s TERM)
BUDGET=270       # s for the whole matrix (CTest kills at 300)

# expect_path X Y: the final path the spec asks for between router types X and Y.
expect_path() {
  local easyish=" open fw easy "
  if [[ $easyish == *" $1 "* && $easyish == *" $2 "* ]]; then echo direct; return; fi
  if [[ $1 == open && " hard pool " == *" $2 "* ]] ||
    [[ $2 == open && " hard pool " == *" $1 "* ]]; then echo direct; return; fi
  if [[ $1 == hard && " easy fw " == *" $2 "* ]] ||
    [[ $2 == hard && " easy fw " == *" $1 "* ]]; then echo direct; return; fi
  echo relay
}

# direct_wait X Y: how long after connect the pair X, Y is given to go direct.
direct_wait() {
  if [[ $1 == hard && " easy fw " == *" $2 "* ]] ||
    [[ $2 == hard && " easy fw " == *" $1 "* ]]; then echo "$BIRTHDAY_WAIT"; else echo "$DIRECT_WAIT"; fi
}

# --- one pair (the script re-run by the matrix) ----------------------------------
# run_pair X Y RESULT DATA_A DATA_B: listener behind X, connector behind Y. Writes one
# line to RESULT: X Y STATUS TTFB TTD TRANSFER C_PATH C_ADDR L_PATH L_ADDR C_HISTORY
# L_HISTORY NOTE, where STATUS is ok or fail (the mechanics; the final path is judged by
# the matrix). Exits 0 when the mechanics hold, 1 otherwise.
run_pair() {
  local x=$1 y=$2 result=$3 data_a=$4 data_b=$5
  local punch=${PUNCH_BIN:?PUNCH_BIN must point at the punch binary}
  : "${MATRIX_LOCK:?the matrix passes MATRIX_LOCK}"
  local size=$((SIZE_MB * 1024 * 1024)) note="" status=ok wait_direct
  wait_direct=$(direct_wait "$x" "$y")
  lab_init
  LAB_RV_LIFETIME=$PAIR_MAX
  lab_site l "$x"
  lab_site c "$y"
  lab_rendezvous 7000
  local l_id c_id
  l_id=$(lab_keygen listener)
  c_id=$(lab_keygen connector)
  local w=$LAB_WORK release="$LAB_WORK/release"
  lab_spawn l listener timeout "$PAIR_MAX" env DATA_B="$data_b" OUT="$w/l.out" \
    bash -c 'exec "$@" <"$DATA_B" >"$OUT"' _ \
    "$punch" listen -r "$LAB_RV_ENDPOINT" -k "$w/listener.key" --allow "$c_id" \
    --events "$w/l.events" -v
  local l_pid=$LAB_LAST_PID
  lab_wait_for "$w/l.events" '"event":"registered"' 10

  # The transfers of the pairs take turns (one lock for the matrix): five at once on a
  # shared machine made time-to-first-byte a measure of CPU contention. Setup and the
  # wait for a direct path still overlap with other pairs.
  exec 9>>"$MATRIX_LOCK"
  flock -w "$LOCK_MAX" 9 || lab_fail "pair $x x $y: no turn within ${LOCK_MAX}s"
  local t0
  t0=$(lab_now)
  lab_spawn c connector timeout "$PAIR_MAX" env DATA_A="$data_a" OUT="$w/c.out" \
    STAMP="$w/c.first" REL="$release" HOLD=$((wait_direct + SETTLE + TRANSFER_MAX)) \
    IO="$LAB_IO" bash -c 'set -o pipefail
      python3 "$IO" send "$DATA_A" --hold-file "$REL" --hold-max "$HOLD" |
        "$@" | python3 "$IO" recv "$OUT" --stamp "$STAMP"' _ \
    "$punch" connect -r "$LAB_RV_ENDPOINT" -k "$w/connector.key" "$l_id" \
    --events "$w/c.events" -v
  local c_pid=$LAB_LAST_PID

  # Both streams complete (bounded); a dead end point stops the wait.
  local n done_at="" lsz csz
  for ((n = 0; n < TRANSFER_MAX * 10; n++)); do
    lsz=$(stat -c %s "$w/l.out" 2>/dev/null || echo 0)
    csz=$(stat -c %s "$w/c.out" 2>/dev/null || echo 0)
    if [ "$lsz" -ge "$size" ] && [ "$csz" -ge "$size" ]; then
      done_at=$(lab_now)
      break
    fi
    { kill -0 "$c_pid" && kill -0 "$l_pid"; } 2>/dev/null || break
    sleep 0.1
  done
  flock -u 9
  [ -n "$done_at" ] || { status=fail; note="transfer incomplete: listener got $lsz, connector got $csz of $size bytes;"; }

  # Give the pair its chance to go direct (it may do so during or after the transfer),
  # then keep the session SETTLE s longer so a direct path that does not last shows.
  local left direct=""
  left=$(awk -v t0="$t0" -v now="$(lab_now)" -v w="$wait_direct" \
    'BEGIN { l = w - (now - t0); print (l > 0 ? int(l + 0.999) : 0) }')
  if direct=$(lab_wait_path "$w/c.events" direct "$left" "$t0"); then
    sleep "$SETTLE"
  fi
  touch "$release"
  local c_rc=0 l_rc=0
  lab_wait_pid "$c_pid" "$EXIT_MAX" || c_rc=$?
  lab_wait_pid "$l_pid" "$EXIT_MAX" || l_rc=$?
  [ "$c_rc" = 0 ] || { status=fail; note="$note connector exit $c_rc;"; }
  [ "$l_rc" = 0 ] || { status=fail; note="$note listener exit $l_rc;"; }
  [ "$(sha256sum <"$data_a")" = "$(sha256sum <"$w/l.out")" ] ||
    { status=fail; note="$note connector->listener bytes differ;"; }
  [ "$(sha256sum <"$data_b")" = "$(sha256sum <"$w/c.out")" ] ||
    { status=fail; note="$note listener->connector bytes differ;"; }
  grep -q '"event":"session_up"' "$w/c.events" || { status=fail; note="$note no session_up;"; }
  grep -q '"event":"path"' "$w/c.events" || { status=fail; note="$note connector: no path event;"; }
  grep -q '"event":"path"' "$w/l.events" || { status=fail; note="$note listener: no path event;"; }

  local ttfb="-" ttd="-" transfer="-"
  [ -s "$w/c.first" ] && ttfb=$(lab_elapsed "$t0" "$(cat "$w/c.first")")
  [ -n "$direct" ] && ttd=$(lab_elapsed "$t0" "${direct%% *}")
  [ -n "$done_at" ] && transfer=$(lab_elapsed "$t0" "$done_at")
  echo "$x $y $status $ttfb $ttd $transfer $(lab_last_path "$w/c.events") \
$(lab_last_path "$w/l.events") $(lab_path_history "$w/c.events") \
$(lab_path_history "$w/l.events") ${note:--}" >"$result"
  # Logs and events stay with the matrix (its work dir), for the failure report.
  mkdir -p "$result.d" && cp "$w"/*.log "$w"/*.events "$result.d/" 2>/dev/null || true
  if [ "$status" != ok ]; then
    echo "pair $x x $y: $note" >&2
    exit 1
  fi
}

if [ "${1:-}" = --pair ]; then
  shift
  run_pair "$@"
  exit 0
fi

# --- the matrix ------------------------------------------------------------------
lab_init
: "${PUNCH_BIN:?PUNCH_BIN must point at the punch binary}"
[ -x "$PUNCH_BIN" ] || lab_fail "PUNCH_BIN is not executable: $PUNCH_BIN"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$LAB_WORK/a.bin"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$LAB_WORK/b.bin"

PAIRS=()
for ((i = 0; i < ${#TYPES[@]}; i++)); do
  for ((j = i; j < ${#TYPES[@]}; j++)); do
    PAIRS+=("${TYPES[i]} ${TYPES[j]}")
  done
done

# Workers run in the root namespace (each builds its own lab); they are ended by PID
# at cleanup, with time for their own traps to delete their namespaces.
declare -A WORKER_PAIR=()
stop_workers() {
  local pid n
  for pid in "${!WORKER_PAIR[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${!WORKER_PAIR[@]}"; do
    for ((n = 0; n < 100; n++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
lab_defer stop_workers

# reap_workers: forgets workers that ended, recording their exit status.
declare -A PAIR_RC=()
reap_workers() {
  local pid rc
  for pid in "${!WORKER_PAIR[@]}"; do
    kill -0 "$pid" 2>/dev/null && continue
    rc=0
    wait "$pid" || rc=$?
    PAIR_RC[${WORKER_PAIR[$pid]}]=$rc
    unset "WORKER_PAIR[$pid]"
  done
}

echo "NAT matrix ($LAB_PREFIX): ${#PAIRS[@]} pairs, $JOBS at a time, ${SIZE_MB} MB each way per pair"
next=0
while [ "$next" -lt "${#PAIRS[@]}" ] || [ "${#WORKER_PAIR[@]}" -gt 0 ]; do
  [ "$SECONDS" -lt "$BUDGET" ] || lab_fail "matrix still running after ${BUDGET}s"
  reap_workers
  while [ "$next" -lt "${#PAIRS[@]}" ] && [ "${#WORKER_PAIR[@]}" -lt "$JOBS" ]; do
    read -r x y <<<"${PAIRS[next]}"
    MATRIX_LOCK="$LAB_WORK/transfer.lock" timeout -s TERM "$PAIR_MAX" bash "$0" --pair "$x" "$y" "$LAB_WORK/result-$x-$y" \
      "$LAB_WORK/a.bin" "$LAB_WORK/b.bin" >"$LAB_WORK/pair-$x-$y.out" 2>&1 &
    WORKER_PAIR[$!]="$x-$y"
    next=$((next + 1))
  done
  sleep 0.2
done

# --- table and verdicts ------------------------------------------------------------
MECH_FAIL=()
PATH_FAIL=()
PATH_FAIL_PAIRS=()
ROWS=()
for p in "${PAIRS[@]}"; do
  read -r x y <<<"$p"
  want=$(expect_path "$x" "$y")
  rc=${PAIR_RC[$x-$y]:-?}
  if [ ! -s "$LAB_WORK/result-$x-$y" ]; then
    MECH_FAIL+=("$x x $y: no result (exit $rc)")
    ROWS+=("$(printf '%-5s %-5s %-5s %8s %8s %8s  %-26s %-26s %-6s' "$x" "$y" FAIL - - - - - "$want")")
    continue
  fi
  read -r _ _ status ttfb ttd transfer cpath caddr lpath laddr chist lhist note \
    <"$LAB_WORK/result-$x-$y"
  [ "$status" = ok ] && [ "$rc" = 0 ] || MECH_FAIL+=("$x x $y: $note (exit $rc)")
  if [ "$cpath" != "$want" ] || [ "$lpath" != "$want" ]; then
    PATH_FAIL_PAIRS+=("$x-$y")
    PATH_FAIL+=("listener behind $x, connector behind $y: want final path $want; connector's last path $cpath $caddr (history $chist), listener's $lpath $laddr (history $lhist)")
  fi
  ROWS+=("$(printf '%-5s %-5s %-5s %8s %8s %8s  %-26s %-26s %-6s' "$x" "$y" "$status" "$transfer" \
    "$ttfb" "$ttd" "$cpath $caddr" "$lpath $laddr" "$want")")
done

echo
echo "NAT matrix: ${SIZE_MB} MB each way per pair; times in s from starting punch connect"
printf '%-5s %-5s %-5s %8s %8s %8s  %-26s %-26s %-6s\n' listn conn xfer both-done ttfb \
  ttdirect "connector path" "listener path" want
printf '%s\n' "${ROWS[@]}"
echo "(xfer: transfer and exits intact; both-done: both ${SIZE_MB} MB streams arrived;"
echo " ttfb: first byte out of punch connect; ttdirect: first path=direct event, - = none)"
echo "total ${SECONDS}s"

if [ "${#MECH_FAIL[@]}" -gt 0 ]; then
  for m in "${MECH_FAIL[@]}"; do
    echo "--- pair ${m%%:*}" >&2
    pair=${m%%:*}
    f="$LAB_WORK/pair-${pair/ x /-}.out"
    [ -f "$f" ] && tail -n 40 "$f" >&2
  done
  printf 'FAIL (transfer): %s\n' "${MECH_FAIL[@]}" >&2
fi
[ "${#MECH_FAIL[@]}" = 0 ] || lab_fail "${#MECH_FAIL[@]} pair(s) failed the transfer checks"
# The final path, judged apart (PUNCH_LAB_DIRECT=soft only reports it), with the end of
# both ends' logs (-v: candidates and probes) of each pair on the wrong path.
for p in "${PATH_FAIL_PAIRS[@]}"; do
  for f in "$LAB_WORK/result-$p.d/listener.log" "$LAB_WORK/result-$p.d/connector.log"; do
    [ -s "$f" ] && { echo "--- pair $p: $(basename "$f") (last 15 lines)" >&2; tail -n 15 "$f" >&2; }
  done
done
for m in "${PATH_FAIL[@]}"; do lab_direct_fail "$m"; done
lab_direct_verdict
echo "PASS: ${#PAIRS[@]} pairs"
