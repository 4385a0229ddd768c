#!/usr/bin/env bash
# Issue 17, finding 7: the -D proxy's RFC 1929 password could be guessed at 14,394
# guesses a second. Now each failure from a client (IP address) delays that
# client's next check: 100 ms, doubling up to 10 s.
#
# Thresholds: 32 parallel guessers for GUESS_SECS = 10 s get at most MAX_GUESSES = 10
# answered guesses (the schedule allows 7: at 0, 0.1, 0.3, 0.7, 1.5, 3.1, 6.3 s);
# once they stop, the right password from the same address logs in within
# LOGIN_MS = 15000 ms (the delay is at most 10 s).
source "$(dirname "$0")/../integration/lib.sh"
need python3
TOOL="python3 $(dirname "$0")/socks_guess.py"
GUESS_SECS=10
MAX_GUESSES=10
LOGIN_MS=15000

printf 'alice:s3cret\n' >"$WORK/pass"
chmod 600 "$WORK/pass"
start_rendezvous
start_forward_listener
start_forward_connector c -D 127.0.0.1:0 --socks-user-file "$WORK/pass"
SOCKS=$(forward_port "$WORK/c.events" dynamic)

guesses=$($TOOL guess "$SOCKS" "$GUESS_SECS" 32)
echo "answered guesses in ${GUESS_SECS} s from 32 parallel connections: $guesses" \
  "($((guesses / GUESS_SECS))/s; 14,394/s without backoff)"
[ "$guesses" -le "$MAX_GUESSES" ] || fail "$guesses guesses answered in ${GUESS_SECS} s (> $MAX_GUESSES)"
read -r outcome ms < <($TOOL login "$SOCKS" alice s3cret 30)
echo "right password after the guessing: $outcome in $ms ms"
[ "$outcome" = ok ] || fail "the right password failed after the guessing: $outcome after $ms ms"
[ "$ms" -le $((LOGIN_MS * SLOW)) ] || fail "login took $ms ms (> $LOGIN_MS)"
kill -0 "${PIDS[-1]}" 2>/dev/null || fail "connector died"
