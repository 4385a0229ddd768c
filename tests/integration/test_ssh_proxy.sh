#!/usr/bin/env bash
# ssh -o ProxyCommand='punch connect ... %h:%p' to a private sshd started here
# (its own host key, config and authorized key, on a free loopback port): a
# command runs, and a 50 MB file crosses both ways with equal checksums.
source "$(dirname "$0")/lib.sh"
need ssh ssh-keygen python3
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || skip "sshd is not installed (scripts/setup installs openssh-server)"

# sshd refuses to start without its privilege separation directory.
if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then mkdir -p /run/sshd && chmod 0755 /run/sshd; fi

ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/user_key"
cp "$WORK/user_key.pub" "$WORK/authorized_keys"
SSH_PORT=$(free_tcp_port)
cat >"$WORK/sshd_config" <<CONF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $WORK/host_key
AuthorizedKeysFile $WORK/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $WORK/sshd.pid
CONF
"$SSHD" -D -e -f "$WORK/sshd_config" 2>"$WORK/sshd.err" &
PIDS+=($!)
wait_tcp_port "$SSH_PORT" sshd  # on failure, lib.sh shows sshd.err

start_rendezvous
start_forward_listener
C_KEY="$WORK/connector.key"
keygen connector >/dev/null

ssh_via_punch() {
  ssh -F none -p "$SSH_PORT" -i "$WORK/user_key" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
    -o ConnectTimeout=$((30 * SLOW)) \
    -o ProxyCommand="$PUNCH connect -q -r $RV -k $C_KEY $L_ID %h:%p" \
    "$(id -un)@127.0.0.1" "$@"
}

out=$(ssh_via_punch 'echo hello from $(id -un) over punch') || fail "ssh command failed"
[ "$out" = "hello from $(id -un) over punch" ] || fail "ssh printed '$out'"

head -c $((50 * 1024 * 1024)) /dev/urandom >"$WORK/up.bin"
start=$(date +%s.%N)
ssh_via_punch "cat >'$WORK/remote.bin'" <"$WORK/up.bin" || fail "upload failed"
ssh_via_punch "cat '$WORK/remote.bin'" >"$WORK/down.bin" || fail "download failed"
end=$(date +%s.%N)
[ "$(sha256sum <"$WORK/up.bin")" = "$(sha256sum <"$WORK/remote.bin")" ] || fail "upload differs"
[ "$(sha256sum <"$WORK/up.bin")" = "$(sha256sum <"$WORK/down.bin")" ] || fail "download differs"
kill -0 "$L_PID" 2>/dev/null || fail "listener died"
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
echo "ssh via ProxyCommand: command ran; 50 MB up and down in ${secs} s, sha256 equal"
