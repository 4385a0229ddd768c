# Shared helpers for integration tests: the real punch binary on loopback.
# Every process a test starts is remembered and ended by the EXIT trap; every
# wait is event-driven with a bounded timeout (no sleeps as synchronisation).
set -euo pipefail

PUNCH=${PUNCH_BIN:?PUNCH_BIN must point at the punch binary}
TOOLS=${PUNCH_TOOLS:-}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/punch-test.XXXXXX")
export PUNCH_HOME="$WORK/home"
unset PUNCH_RENDEZVOUS
PIDS=()
# Slower under sanitizers; timeouts are generous upper bounds, not expectations.
SLOW=1
[ -n "${PUNCH_SANITIZED:-}" ] && SLOW=4

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  # A sanitizer report from any process fails the test, even from one that
  # was only killed at the end (its exit status is not otherwise checked).
  if [ $rc -eq 0 ] && grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$WORK"/*.err >/dev/null 2>&1; then
    echo "FAIL: sanitizer report in $(grep -l -E "Sanitizer|runtime error:" "$WORK"/*.err | tr '\n' ' ')" >&2
    rc=1
  fi
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    for f in "$WORK"/*.err "$WORK"/*.events; do
      [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
    done
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIPPED: $*" >&2; exit 77; }

# wait_for FILE PATTERN SECONDS: waits until a line matching PATTERN appears.
wait_for() {
  local file=$1 pattern=$2 secs=$(( $3 * SLOW ))
  touch "$file"
  # grep exits at the first match and tail then dies of SIGPIPE: only grep's
  # status counts, so pipefail is off for this pipeline.
  (set +o pipefail; timeout "$secs" tail -n +1 -F "$file" 2>/dev/null | grep -q -m1 -- "$pattern") ||
    fail "timed out after ${secs}s waiting for '$pattern' in $file"
}

# start_rendezvous NAME: starts a rendezvous on a free loopback port; sets RV.
start_rendezvous() {
  local name=${1:-rv}
  "$PUNCH" rendezvous -l 127.0.0.1:0 --events "$WORK/$name.events" 2>"$WORK/$name.err" &
  PIDS+=($!)
  RV_PID=$!
  wait_for "$WORK/$name.events" '"event":"listening"' 10
  RV=$(grep -m1 '"event":"listening"' "$WORK/$name.events" | sed 's/.*"address":"\([^"]*\)".*/\1/')
}

# keygen NAME: creates key $WORK/NAME.key and prints its ID.
keygen() { "$PUNCH" keygen -k "$WORK/$1.key"; }

# wait_pid PID SECONDS: waits for a started process to exit, returns its status.
wait_pid() {
  local pid=$1 secs=$(( $2 * SLOW )) i=0
  while kill -0 "$pid" 2>/dev/null; do
    # Polls the process table, not a proxy for an event: bounded by secs.
    i=$((i + 1))
    [ $i -gt $((secs * 20)) ] && fail "process $pid still running after ${secs}s"
    sleep 0.05
  done
  wait "$pid"
}
