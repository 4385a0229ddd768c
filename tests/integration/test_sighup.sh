#!/usr/bin/env bash
# SIGHUP (the terminal or the ssh session that ran punch went away) ends punch as
# SIGTERM does: it closes its sessions, so the peer learns at once instead of after
# the 30 s idle timeout (issue 17). A SIGHUP ignored at start (nohup) stays ignored.
# Threshold: the listener reports the session down within 5 s of the SIGHUP.
source "$(dirname "$0")/lib.sh"
need python3
TOOL="python3 $(dirname "$0")/tcp_tool.py"
$TOOL serve halfclose >"$WORK/hc.port" 2>"$WORK/hc.err" & PIDS+=($!)
wait_for "$WORK/hc.port" '[0-9]' 10
HC=$(cat "$WORK/hc.port")

start_rendezvous
start_forward_listener
start_forward_connector c -L 0:127.0.0.1:"$HC"
C_PID=${PIDS[-1]}

t0=$(date +%s%N)
kill -HUP "$C_PID"
set +e
wait_pid "$C_PID" 5
rc=$?
set -e
[ $rc -eq 130 ] || fail "connector exited $rc after SIGHUP (want 130, as for SIGTERM)"
wait_for "$WORK/l.events" '"event":"session_down"' 5
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep '"event":"session_down"' "$WORK/l.events" | grep -q "interrupted" ||
  fail "listener did not learn why: $(grep session_down "$WORK/l.events")"
echo "SIGHUP: connector exit $rc, listener saw the session end after $ms ms"

# Under nohup (SIGHUP ignored when punch starts) the hangup changes nothing: a
# forward still works after it (the signal is delivered before the connection
# arrives, so a handled SIGHUP would have closed the -L port first).
keygen n >/dev/null
(trap '' HUP; exec "$PUNCH" connect -N -r "$RV" -k "$WORK/n.key" "$L_ID" --events "$WORK/n.events" \
  -L 0:127.0.0.1:"$HC" </dev/null >/dev/null 2>"$WORK/n.err") &
N_PID=$!; PIDS+=($N_PID)
wait_for "$WORK/n.events" '"event":"session_up"' 20
NPORT=$(forward_port "$WORK/n.events" local)
kill -HUP "$N_PID"
$TOOL halfclose "$NPORT" || fail "a connector started under nohup stopped serving after SIGHUP"
kill -0 "$N_PID" 2>/dev/null || fail "a connector started under nohup died of SIGHUP"
kill -TERM "$N_PID"
set +e
wait_pid "$N_PID" 5
rc=$?
set -e
[ $rc -eq 130 ] || fail "connector under nohup exited $rc"
[ "$(grep -c '"event":"session_down"' "$WORK/n.events")" -eq 1 ] || fail "no session_down after SIGTERM"
