#!/usr/bin/env bash
# Secret files are checked as ssh checks private keys (issue 17): -k on a FIFO is
# refused at once (it used to hang), a --socks-user-file others can read is refused
# (it used to be used), root refuses a key another user owns, and processes that
# create the same key at the same moment all end up with one key (the losers used
# to fail with "use --force").
source "$(dirname "$0")/lib.sh"

# A FIFO as the key: refused within 5 s (124 would mean it hung).
mkfifo "$WORK/fifo"
set +e
timeout $((5 * SLOW)) "$PUNCH" id -k "$WORK/fifo" 2>"$WORK/fifo.err"
rc=$?
set -e
[ $rc -ne 124 ] || fail "punch id -k FIFO hung"
[ $rc -eq 1 ] && grep -q "not a regular file" "$WORK/fifo.err" ||
  fail "FIFO key: exit $rc, $(cat "$WORK/fifo.err")"

# A world-readable password file: a usage error that says how to fix it.
printf 'alice:s3cret\n' >"$WORK/pass"
chmod 644 "$WORK/pass"
set +e
"$PUNCH" connect -N -r 127.0.0.1:1 -k "$WORK/c.key" abcdefghijklmnopqrstuvwxyz -D 0 \
  --socks-user-file "$WORK/pass" </dev/null 2>"$WORK/pass.err"
rc=$?
set -e
[ $rc -eq 2 ] && grep -q "readable by others" "$WORK/pass.err" && grep -q "chmod 600" "$WORK/pass.err" ||
  fail "world-readable --socks-user-file: exit $rc, $(cat "$WORK/pass.err")"

# Root and a key of another user (ssh refuses it too).
if [ "$(id -u)" -eq 0 ]; then
  keygen theirs >/dev/null
  chown 65534 "$WORK/theirs.key"
  set +e
  "$PUNCH" id -k "$WORK/theirs.key" 2>"$WORK/theirs.err"
  rc=$?
  set -e
  [ $rc -eq 1 ] && grep -q "belongs to user 65534" "$WORK/theirs.err" ||
    fail "root used a key of user 65534: exit $rc, $(cat "$WORK/theirs.err")"
else
  echo "not root: the other-owner check is covered by the unit tests only"
fi

# Five listeners create one new key at once: all run, all with the same ID.
start_rendezvous
pids=()
for i in 1 2 3 4 5; do
  "$PUNCH" listen -N -r "$RV" -k "$WORK/shared/key" --allow-any --events "$WORK/s$i.events" \
    </dev/null >/dev/null 2>"$WORK/s$i.err" &
  pids+=($!); PIDS+=($!)
done
for i in 1 2 3 4 5; do wait_for "$WORK/s$i.events" '"event":"registered"' 20; done
ids=$(grep -h -o '"id":"[a-z0-9]*"' "$WORK"/s?.events | sort -u)
[ "$(wc -l <<<"$ids")" -eq 1 ] || fail "concurrent creation gave several keys: $ids"
[ "$("$PUNCH" id -k "$WORK/shared/key")" = "$(sed 's/.*:"\(.*\)"/\1/' <<<"$ids")" ] ||
  fail "the key on disk is not the one the listeners use"
! grep -q -- "--force" "$WORK"/s?.err || fail "a listener was told to use --force"
created=$(cat "$WORK"/s?.err | grep -c "created a new key" || true)
echo "secret files: FIFO refused, readable password refused; 5 concurrent creators, 1 key ($created said they created it)"
