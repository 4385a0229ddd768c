#!/usr/bin/env bash
# Issue 17, finding 1: keys the listener does not allow flood it with invitations
# (CONNECTs for its ID at FLOOD_RATE/s, 10x the 30-60/s that locked allowed peers out)
# while an allowed connector connects CONNECTS times, one after the other.
# Thresholds: every allowed connect reaches session_up within CONNECT_TIMEOUT s; the
# flooder really sent >= MIN_RATE CONNECTs/s; the listener's log lines and --events
# records about refusals stay at or under REFUSAL_LINES however many it refused (one
# full report and one summary per 10 s interval, docs/security.md); its resident memory
# grows by at most RSS_GROWTH_KB. Also reported: the listener's CPU time.
source "$(dirname "$0")/../integration/lib.sh"
FLOOD="$TOOLS/invite_flood"
[ -x "$FLOOD" ] || fail "invite_flood tool not built at $FLOOD"
# The flooder sends from 127.0.0.2-9 (the rendezvous limits each IP to 200 messages/s).
python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.9", 0))' \
  2>/dev/null || skip "cannot bind 127.0.0.9 (loopback is not a whole 127/8 here)"

FLOOD_RATE=${FLOOD_RATE:-600}
MIN_RATE=300
CONNECTS=${CONNECTS:-10}
CONNECT_TIMEOUT=10
FLOOD_SECONDS=20
REFUSAL_LINES=8  # 20 s of flood plus a margin: at most 2 per 10 s interval, 3 intervals
RSS_GROWTH_KB=16384  # remembered invitations (< 1 MB) and a few sessions; allocator slack

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start_rendezvous
L_ID=$(keygen listener)
GOOD_ID=$(keygen good)

"$PUNCH" listen -N -r "$RV" -k "$WORK/listener.key" --allow "$GOOD_ID" --events "$WORK/l.events" \
  </dev/null >/dev/null 2>"$WORK/l.err" &
L_PID=$!; PIDS+=($L_PID)
wait_for "$WORK/l.events" '"event":"registered"' 10
RSS0=$(rss_kb $L_PID)
CPU0=$(cpu_ticks $L_PID)

"$FLOOD" "${RV%:*}" "${RV##*:}" "$L_ID" "$FLOOD_RATE" "$FLOOD_SECONDS" 8 64 2 >"$WORK/flood.out" 2>"$WORK/flood.err" &
F_PID=$!; PIDS+=($F_PID)
wait_for "$WORK/flood.out" 'registered' 15
# The flood reaches the listener (at 600/s it fills 64 relay slots in 0.1 s).
wait_for "$WORK/l.events" '"event":"refused"' 10

# connect_once N: one allowed `punch connect -N`; succeeds when its session is up.
connect_once() {
  local n=$1 ev="$WORK/c$1.events" err="$WORK/c$1.err" pid i start
  start=$(date +%s%N)
  "$PUNCH" connect -N -r "$RV" -k "$WORK/good.key" "$L_ID" --events "$ev" </dev/null >/dev/null 2>"$err" &
  pid=$!; PIDS+=($pid)
  touch "$ev"
  # Polls the event file and the process, bounded by CONNECT_TIMEOUT: either ends it.
  for ((i = 0; i < CONNECT_TIMEOUT * SLOW * 20; i++)); do
    if grep -q '"event":"session_up"' "$ev"; then
      echo "connect $n: session up in $(( ($(date +%s%N) - start) / 1000000 )) ms"
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      echo "connect $n: FAILED: $(tail -n 1 "$err")"
      return 1
    fi
    sleep 0.05
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "connect $n: FAILED: no session after ${CONNECT_TIMEOUT}s: $(tail -n 1 "$err")"
  return 1
}

ok=0
for ((n = 1; n <= CONNECTS; n++)); do
  kill -0 "$F_PID" 2>/dev/null || fail "the flood ended before connect $n (raise FLOOD_SECONDS)"
  connect_once "$n" && ok=$((ok + 1))
  # Spreads the connects over the flood (not a synchronisation): the later ones meet a
  # listener that has been under attack for seconds.
  sleep 1
done
flood_running_at_end=1
kill -0 "$F_PID" 2>/dev/null || flood_running_at_end=0

wait_pid "$F_PID" $((FLOOD_SECONDS + 10)) || fail "flooder failed: $(cat "$WORK/flood.err")"
summary=$(grep '^sent ' "$WORK/flood.out") || fail "no flood summary"
echo "flood: $summary"
rate=$(sed 's/.*(\([0-9]*\)\/s).*/\1/' <<<"$summary")
kill -0 "$L_PID" 2>/dev/null || fail "listener died"
RSS1=$(rss_kb $L_PID)
cpu_ms=$(( ($(cpu_ticks $L_PID) - CPU0) * 1000 / $(getconf CLK_TCK) ))
echo "listener: RSS ${RSS0} -> ${RSS1} KB, CPU ${cpu_ms} ms over the ${FLOOD_SECONDS} s flood"

log_lines=$(grep -c 'refused' "$WORK/l.err" || true)
event_lines=$(grep -c '"event":"refused' "$WORK/l.events" || true)
echo "allowed connects: $ok of $CONNECTS; listener refusal log lines: $log_lines, refusal events: $event_lines"
grep 'refused' "$WORK/l.err" | tail -n 3

[ "$flood_running_at_end" = 1 ] || fail "the flood ended before the last connect"
[ "$rate" -ge "$MIN_RATE" ] || fail "flood rate ${rate}/s below $MIN_RATE/s: the test proves nothing"
[ "$ok" -eq "$CONNECTS" ] || fail "only $ok of $CONNECTS allowed connects got through the flood"
[ "$log_lines" -le "$REFUSAL_LINES" ] || fail "$log_lines refusal log lines (bound $REFUSAL_LINES)"
[ "$event_lines" -le "$REFUSAL_LINES" ] || fail "$event_lines refusal events (bound $REFUSAL_LINES)"
[ $((RSS1 - RSS0)) -le "$RSS_GROWTH_KB" ] || fail "listener RSS grew by $((RSS1 - RSS0)) KB"
echo "all $CONNECTS allowed connects got through ${rate} unauthorized CONNECTs/s; refusal output bounded"
