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

# need COMMAND...: skips the test (exit 77) when a command it needs is missing.
need() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || skip "$c is not installed (scripts/setup installs it)"
  done
}

# free_tcp_port: prints a loopback TCP port that nothing listens on right now.
free_tcp_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_forward_listener [ARGS...]: a `punch listen -N` serving forwards for
# any peer (plus ARGS); sets L_ID and waits until it is registered.
start_forward_listener() {
  L_ID=$(keygen listener)
  "$PUNCH" listen -N -r "$RV" -k "$WORK/listener.key" --allow-any --events "$WORK/l.events" \
    "$@" </dev/null >/dev/null 2>"$WORK/l.err" &
  L_PID=$!; PIDS+=($L_PID)
  wait_for "$WORK/l.events" '"event":"registered"' 10
}

# start_forward_connector NAME [ARGS...]: a `punch connect -N` to L_ID with the
# forwards in ARGS; waits for its session. Events go to $WORK/NAME.events.
start_forward_connector() {
  local name=$1; shift
  keygen "$name" >/dev/null
  "$PUNCH" connect -N -r "$RV" -k "$WORK/$name.key" "$L_ID" --events "$WORK/$name.events" \
    "$@" </dev/null >/dev/null 2>"$WORK/$name.err" &
  PIDS+=($!)
  wait_for "$WORK/$name.events" '"event":"session_up"' 20
}

# forward_port EVENTS KIND: waits for a "forward" event of KIND in EVENTS and
# prints the port it reports (from "address" or "port").
forward_port() {
  local events=$1 kind=$2 line
  wait_for "$events" "\"event\":\"forward\",\"kind\":\"$kind\"" 20
  line=$(grep -m1 "\"event\":\"forward\",\"kind\":\"$kind\"" "$events")
  if [[ $line == *'"port":'* ]]; then
    sed 's/.*"port":\([0-9]*\).*/\1/' <<<"$line"
  else
    sed 's/.*"address":"[^"]*:\([0-9]*\)".*/\1/' <<<"$line"
  fi
}

# start_http_server DIR: serves DIR over HTTP on loopback; sets HTTP_PORT.
start_http_server() {
  HTTP_PORT=$(free_tcp_port)
  # http.server's own listen backlog is 5; hundreds of concurrent clients need more.
  python3 -c '
import functools, http.server, sys
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
Server(("127.0.0.1", int(sys.argv[2])), handler).serve_forever()
' "$1" "$HTTP_PORT" >"$WORK/http.log" 2>"$WORK/http.log2" &
  PIDS+=($!)
  wait_tcp_port "$HTTP_PORT" "http server"
}

# wait_tcp_port PORT WHAT: waits until 127.0.0.1:PORT accepts connections, for
# servers (http.server, sshd -D) that say nothing reliable when they are ready.
wait_tcp_port() {
  local port=$1 what=$2 i=0
  # Polls the port, bounded: there is no event to wait on.
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    i=$((i + 1)); [ $i -gt $((100 * SLOW)) ] && fail "$what did not start on port $port"
    sleep 0.05
  done
}
