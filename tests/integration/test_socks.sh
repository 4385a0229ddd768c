#!/usr/bin/env bash
# -D: a SOCKS5 proxy on the connector whose connections exit on the listener's
# side, driven by curl --socks5-hostname (names resolved on the far side) to a
# local HTTP server: bodies byte-exact, 200 concurrent requests all correct,
# username/password (RFC 1929), and bad SOCKS5 input answered or closed
# without harming the streams that keep flowing.
source "$(dirname "$0")/lib.sh"
need curl python3

mkdir -p "$WORK/www"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$WORK/www/big.bin"
for i in $(seq 1 20); do head -c $((i * 1000 + 17)) /dev/urandom >"$WORK/www/f$i.bin"; done
start_http_server "$WORK/www"

start_rendezvous
start_forward_listener
start_forward_connector c -D 127.0.0.1:0
SOCKS=$(forward_port "$WORK/c.events" dynamic)

# One big body, by name: "localhost" is resolved by the listener.
curl -sS --fail --max-time $((30 * SLOW)) --socks5-hostname "127.0.0.1:$SOCKS" \
  -o "$WORK/big.out" "http://localhost:$HTTP_PORT/big.bin" || fail "curl through -D failed"
cmp -s "$WORK/www/big.bin" "$WORK/big.out" || fail "3 MB body differs"

# 200 concurrent requests over 20 files, each compared with its file.
pids=()
for n in $(seq 1 200); do
  f=$(( (n % 20) + 1 ))
  curl -sS --fail --max-time $((60 * SLOW)) --socks5-hostname "127.0.0.1:$SOCKS" \
    -o "$WORK/c$n.out" "http://127.0.0.1:$HTTP_PORT/f$f.bin" 2>"$WORK/curl$n.log" &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
[ $failed -eq 0 ] || fail "$failed of 200 concurrent curls failed: $(cat "$WORK"/curl*.log | sort | uniq -c | head -3)"
for n in $(seq 1 200); do
  f=$(( (n % 20) + 1 ))
  cmp -s "$WORK/www/f$f.bin" "$WORK/c$n.out" || fail "request $n: body of f$f.bin differs"
done

# Reply codes: a refused port, and a name that does not resolve.
CLOSED=$(free_tcp_port)
python3 "$(dirname "$0")/socks_client.py" 127.0.0.1 "$SOCKS" connect-ip 127.0.0.1 "$CLOSED" \
  expect-reply 5 || fail "refused port: wrong SOCKS5 reply"
python3 "$(dirname "$0")/socks_client.py" 127.0.0.1 "$SOCKS" connect-name nonexistent.invalid 80 \
  expect-reply 4 || fail "unknown name: wrong SOCKS5 reply"

# Bad input, each on its own connection while a long download keeps flowing.
curl -sS --fail --max-time $((60 * SLOW)) --limit-rate 1M --socks5-hostname "127.0.0.1:$SOCKS" \
  -o "$WORK/slow.out" "http://127.0.0.1:$HTTP_PORT/big.bin" &
SLOW_CURL=$!
python3 "$(dirname "$0")/socks_client.py" 127.0.0.1 "$SOCKS" bad-input ||
  fail "bad SOCKS5 input was not answered or closed properly"
wait $SLOW_CURL || fail "download during bad input failed"
cmp -s "$WORK/www/big.bin" "$WORK/slow.out" || fail "download during bad input differs"
kill -0 "$L_PID" 2>/dev/null || fail "listener died"

# Username/password: a second connector whose proxy demands credentials.
printf 'alice:s3cret\n' >"$WORK/socks.pass"
chmod 600 "$WORK/socks.pass"  # refused if others can read it, as a key is
start_forward_connector auth -D 127.0.0.1:0 --socks-user-file "$WORK/socks.pass"
ASOCKS=$(forward_port "$WORK/auth.events" dynamic)
curl -sS --fail --max-time $((30 * SLOW)) --socks5-hostname "alice:s3cret@127.0.0.1:$ASOCKS" \
  -o "$WORK/auth.out" "http://localhost:$HTTP_PORT/f3.bin" || fail "curl with credentials failed"
cmp -s "$WORK/www/f3.bin" "$WORK/auth.out" || fail "body with credentials differs"
if curl -sS --max-time $((30 * SLOW)) --socks5-hostname "alice:wrong@127.0.0.1:$ASOCKS" \
  -o /dev/null "http://localhost:$HTTP_PORT/f3.bin" 2>"$WORK/wrong.log"; then
  fail "a wrong password was accepted"
fi
if curl -sS --max-time $((30 * SLOW)) --socks5-hostname "127.0.0.1:$ASOCKS" \
  -o /dev/null "http://localhost:$HTTP_PORT/f3.bin" 2>/dev/null; then
  fail "a client without credentials was accepted"
fi
echo "SOCKS5: 3 MB body and 200 concurrent bodies exact; reply codes, bad input, RFC 1929 checked"
