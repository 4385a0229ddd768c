#!/usr/bin/env bash
# keygen/id and the key-file rules users rely on, plus clear failures for bad input.
source "$(dirname "$0")/lib.sh"

ID=$("$PUNCH" keygen -k "$WORK/k/key")
[[ "$ID" =~ ^[a-z2-7]{26}$ ]] || fail "keygen printed '$ID', not an ID"
[ "$(stat -c %a "$WORK/k/key")" = "600" ] || fail "key mode is $(stat -c %a "$WORK/k/key"), not 600"
[ "$("$PUNCH" id -k "$WORK/k/key")" = "$ID" ] || fail "id disagrees with keygen"

set +e
"$PUNCH" keygen -k "$WORK/k/key" >/dev/null 2>"$WORK/over.err"; rc=$?
set -e
[ $rc -ne 0 ] || fail "keygen overwrote a key without --force"
grep -q -- "--force" "$WORK/over.err" || fail "overwrite refusal does not mention --force"
[ "$("$PUNCH" id -k "$WORK/k/key")" = "$ID" ] || fail "key changed after refused keygen"
NEW=$("$PUNCH" keygen -k "$WORK/k/key" --force)
[ "$NEW" != "$ID" ] || fail "--force did not make a new key"

# Default location: $PUNCH_HOME/key.
HOME_ID=$("$PUNCH" keygen)
[ -f "$PUNCH_HOME/key" ] || fail "keygen did not use \$PUNCH_HOME/key"
[ "$("$PUNCH" id)" = "$HOME_ID" ] || fail "id did not use \$PUNCH_HOME/key"

# A world-readable key is refused, as ssh does.
chmod 644 "$WORK/k/key"
set +e
"$PUNCH" id -k "$WORK/k/key" >/dev/null 2>"$WORK/mode.err"; rc=$?
set -e
[ $rc -ne 0 ] || fail "a world-readable key was accepted"
grep -q "chmod 600" "$WORK/mode.err" || fail "mode refusal does not say how to fix it: $(cat "$WORK/mode.err")"

# Missing key for `id`: clear message.
set +e
"$PUNCH" id -k "$WORK/none/key" 2>"$WORK/none.err"; rc=$?
set -e
[ $rc -ne 0 ] && grep -q "keygen" "$WORK/none.err" || fail "missing key message unclear"

# Bad input: non-zero exit and a message, never a hang.
set +e
timeout 10 "$PUNCH" connect -r 127.0.0.1:9 not-an-id </dev/null 2>"$WORK/badid.err"; rc=$?
set -e
[ $rc -eq 2 ] || fail "bad peer ID exit $rc, want 2"
grep -q "not a punch ID" "$WORK/badid.err" || fail "bad ID message unclear"

set +e
timeout 10 "$PUNCH" connect "$ID" </dev/null 2>"$WORK/nor.err"; rc=$?
set -e
[ $rc -eq 2 ] || fail "missing -r exit $rc, want 2"

# Creating the key on first use of connect, and an unreachable rendezvous: a
# clear failure within seconds (nothing listens on this port).
set +e
timeout $((30 * SLOW)) "$PUNCH" connect -r 127.0.0.1:9 -k "$WORK/first/key" "$ID" </dev/null 2>"$WORK/unreach.err"; rc=$?
set -e
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "unreachable rendezvous: exit $rc"
grep -q "created a new key" "$WORK/unreach.err" || fail "first use did not say it created a key"
[ -f "$WORK/first/key" ] || fail "first use did not create the key"
grep -q "does not answer" "$WORK/unreach.err" || fail "unreachable message unclear: $(cat "$WORK/unreach.err")"
echo "key files and CLI errors behave"
