# shellcheck shell=bash disable=SC2034  # variables here are used by the tests that source it
# The NAT lab: a small internet of network namespaces with real Linux NAT.
# Source this file from a lab test (see tests/lab/README.md), then:
#
#   lab_init                      # skip (exit 77) unless root with namespaces; trap cleanup
#   lab_site a easy               # router of type easy + one host behind it (adds the core)
#   lab_site_two_hosts l easy     # same, two hosts on one LAN behind one router
#   lab_exec a "$PROBE" ask "$LAB_RV" 7000
#
# Every namespace it creates carries a unique prefix and is deleted by the EXIT/INT/TERM
# trap; every process started with lab_spawn is ended by its PID. Addresses come from the
# documentation ranges only; nothing is linked to the root namespace (../shared/LAB.md).
#
# Address plan (site index i = 1..15, in creation order):
#   192.0.2.0/24      servers on the core: core 192.0.2.1, rendezvous host 192.0.2.2-.9
#   203.0.113.16i/28  site i's public block, routed by the core to the site's router:
#                     .16i+1 core, .16i+2 router wan (the NAT's public address),
#                     .16i+4-.16i+7 pool (type pool), .16i+8/29 public LAN (open, fw):
#                     router .16i+9, hosts .16i+10, .16i+11
#   198.51.100.16i/28 site i's private LAN (easy, hard, pool, udpblock):
#                     router .16i+1, hosts .16i+2, .16i+3

# Addresses of the rendezvous host; it answers on all of them (several destinations for
# mapping tests). LAB_RV is the one to use as "the rendezvous".
LAB_RV=192.0.2.2
LAB_RV_ADDRS=(192.0.2.2 192.0.2.3 192.0.2.4 192.0.2.5 192.0.2.6 192.0.2.7 192.0.2.8 192.0.2.9)
LAB_CORE_RV_ADDR=192.0.2.1
LAB_TYPES="open fw easy hard pool udpblock"

LAB_PREFIX=""
LAB_WORK=""
LAB_NAMESPACES=()
LAB_PIDS=()
LAB_DEFERRED=()
LAB_CORE_READY=0
LAB_NEXT_INDEX=1
LAB_LAST_PID=""
declare -A LAB_SITE_INDEX=()
declare -A LAB_SITE_TYPE=()
declare -A LAB_SITE_HOSTS=()

lab_skip() {
  echo "SKIPPED: $*" >&2
  exit 77
}

lab_fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# lab_defer CMD...: runs CMD at cleanup, before processes are ended (latest first).
lab_defer() { LAB_DEFERRED+=("$*"); }

lab__cleanup() {
  local rc=$?
  trap '' INT TERM HUP
  local i pid ns
  for ((i = ${#LAB_DEFERRED[@]} - 1; i >= 0; i--)); do
    eval "${LAB_DEFERRED[i]}" || true
  done
  for pid in "${LAB_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${LAB_PIDS[@]}"; do
    lab__reap "$pid"
  done
  # Anything else still running inside our namespaces was started by this test (a
  # namespace only exists here because we created it): end it by PID too, so deleting
  # the namespace really frees it.
  for ns in "${LAB_NAMESPACES[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -KILL "$pid" 2>/dev/null || true
    done
  done
  for ((i = ${#LAB_NAMESPACES[@]} - 1; i >= 0; i--)); do
    ip netns delete "${LAB_NAMESPACES[i]}" 2>/dev/null ||
      echo "lab: could not delete namespace ${LAB_NAMESPACES[i]}" >&2
  done
  LAB_NAMESPACES=()
  if [ -n "$LAB_WORK" ] && [ -d "$LAB_WORK" ]; then
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
      local f
      for f in "$LAB_WORK"/*.log; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
      done
    fi
    if [ -n "${PUNCH_LAB_KEEP:-}" ]; then
      # Logs, events and results (files under 2 MB: not the test data, no keys) for a
      # look later.
      if mkdir -p "$PUNCH_LAB_KEEP/$LAB_PREFIX" && (cd "$LAB_WORK" && find . -type f \
        -size -2M ! -name '*.key' -exec cp --parents {} "$PUNCH_LAB_KEEP/$LAB_PREFIX/" \;); then
        echo "lab: logs kept in $PUNCH_LAB_KEEP/$LAB_PREFIX" >&2
      fi
    fi
    rm -rf "$LAB_WORK"
  fi
  exit "$rc"
}

# Waits up to 2 s for PID (a child of this shell) to end, then kills it.
lab__reap() {
  local pid=$1 n
  for ((n = 0; n < 20; n++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# lab_init: checks that the lab can run here (else prints SKIPPED and exits 77), picks
# a unique prefix, makes a work directory ($LAB_WORK) and installs the cleanup trap.
lab_init() {
  [ "$(id -u)" = 0 ] || lab_skip "the NAT lab needs root (network namespaces, nftables)"
  local missing="" tool
  for tool in ip nft ethtool sysctl conntrack ping; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
  done
  [ -z "$missing" ] || lab_skip "the NAT lab needs:$missing (scripts/setup installs them)"
  LAB_PREFIX="pl$$-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  LAB_WORK=$(mktemp -d "${TMPDIR:-/tmp}/punch-lab.XXXXXX")
  trap lab__cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  # Probe: can we create a namespace and load a NAT table in it?
  local probe="$LAB_PREFIX-probe"
  ip netns add "$probe" 2>"$LAB_WORK/probe.err" ||
    lab_skip "cannot create network namespaces: $(head -n1 "$LAB_WORK/probe.err")"
  LAB_NAMESPACES+=("$probe")
  if ! ip netns exec "$probe" nft -f - 2>"$LAB_WORK/probe.err" <<'EOF'; then
table ip probe {
  chain post { type nat hook postrouting priority srcnat; policy accept; oifname "x" masquerade fully-random; }
}
EOF
    lab_skip "nftables NAT does not work in a namespace: $(head -n1 "$LAB_WORK/probe.err")"
  fi
  ip netns delete "$probe"
  LAB_NAMESPACES=()
}

# lab__ns_add NS [router]: creates namespace NS (recorded for cleanup), loopback up,
# IPv6 off (no DAD/RS noise), ICMP errors not rate limited (deterministic tests),
# forwarding on for routers.
lab__ns_add() {
  local ns=$1 role=${2:-host}
  ip netns add "$ns" || lab_fail "ip netns add $ns"
  LAB_NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
  local forward=0
  [ "$role" = router ] && forward=1
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=$forward net.ipv4.icmp_ratelimit=0 \
    >/dev/null || lab_fail "sysctl in $ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
  # A bridge on a router's LAN is plain layer 2: keep bridged frames out of nftables
  # (br_netfilter), so two hosts on one LAN talk without the router's rules.
  if [ "$role" = router ]; then
    ip netns exec "$ns" sysctl -qw net.bridge.bridge-nf-call-iptables=0 >/dev/null 2>&1 || true
  fi
}

# lab__offloads_off NS IF: realistic packet sizes through the lab (LAB.md). Besides
# tso/gso/gro, veth also carries UDP GSO batches whole (tx-udp-segmentation): punch
# sends its datagrams in such batches, so without this a router would see (count,
# drop, NAT) one 20+ KB super-packet per batch instead of each datagram.
lab__offloads_off() {
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx-udp-segmentation off \
    >/dev/null 2>&1 || lab_fail "ethtool -K $2 in $1"
}

# lab__link NS1 IF1 NS2 IF2: a veth pair created directly inside the two namespaces
# (it never exists in the root namespace), offloads off, both ends up.
lab__link() {
  local ns1=$1 if1=$2 ns2=$3 if2=$4
  ip -n "$ns1" link add "$if1" type veth peer name "$if2" netns "$ns2" ||
    lab_fail "veth $ns1/$if1 - $ns2/$if2"
  lab__offloads_off "$ns1" "$if1"
  lab__offloads_off "$ns2" "$if2"
  ip -n "$ns1" link set "$if1" up
  ip -n "$ns2" link set "$if2" up
}

# lab_core: the internet. A router namespace (each hop lowers the TTL, LAB.md trap 2),
# stateless (no conntrack), with the rendezvous host on 192.0.2.0/24. Called by
# lab_site if needed. Sets LAB_CORE_NS and LAB_RV_NS.
lab_core() {
  [ "$LAB_CORE_READY" = 1 ] && return 0
  [ -n "$LAB_PREFIX" ] || lab_fail "lab_init first"
  LAB_CORE_NS="$LAB_PREFIX-core"
  LAB_RV_NS="$LAB_PREFIX-rv"
  lab__ns_add "$LAB_CORE_NS" router
  lab__ns_add "$LAB_RV_NS"
  lab__link "$LAB_CORE_NS" rv "$LAB_RV_NS" eth0
  ip -n "$LAB_CORE_NS" addr add "$LAB_CORE_RV_ADDR/24" dev rv
  local a
  for a in "${LAB_RV_ADDRS[@]}"; do
    ip -n "$LAB_RV_NS" addr add "$a/24" dev eth0
  done
  ip -n "$LAB_RV_NS" route add default via "$LAB_CORE_RV_ADDR"
  # UDP between two sites can be cut here (lab_block_udp_between); no connection
  # tracking in the core, like a real backbone.
  ip netns exec "$LAB_CORE_NS" nft -f - <<'EOF' || lab_fail "nft in core"
table ip lab {
  set blocked { type ipv4_addr . ipv4_addr; flags interval; }
  chain forward {
    type filter hook forward priority filter; policy accept;
    meta l4proto udp ip saddr . ip daddr @blocked counter drop
  }
}
EOF
  LAB_CORE_READY=1
}

lab__site_index() {
  local idx=${LAB_SITE_INDEX[$1]:-}
  [ -n "$idx" ] || lab_fail "no lab site named '$1'"
  echo "$idx"
}

# Address helpers for site NAME (see the address plan above).
lab_site_block() { echo "203.0.113.$((16 * $(lab__site_index "$1")))/28"; }
lab_core_addr() { echo "203.0.113.$((16 * $(lab__site_index "$1") + 1))"; }
lab_wan_addr() { echo "203.0.113.$((16 * $(lab__site_index "$1") + 2))"; }
lab_pool_first() { echo "203.0.113.$((16 * $(lab__site_index "$1") + 4))"; }
lab_pool_last() { echo "203.0.113.$((16 * $(lab__site_index "$1") + 7))"; }
# lab_host_addr NAME [N]: host N's own address (public for open/fw, private otherwise).
lab_host_addr() {
  local i n=${2:-1}
  i=$(lab__site_index "$1")
  case ${LAB_SITE_TYPE[$1]} in
    open | fw) echo "203.0.113.$((16 * i + 9 + n))" ;;
    *) echo "198.51.100.$((16 * i + 1 + n))" ;;
  esac
}
# lab_lan_gw NAME: the router's address on the site's LAN.
lab_lan_gw() {
  local i
  i=$(lab__site_index "$1")
  case ${LAB_SITE_TYPE[$1]} in
    open | fw) echo "203.0.113.$((16 * i + 9))" ;;
    *) echo "198.51.100.$((16 * i + 1))" ;;
  esac
}

# lab_ns SPEC: the namespace for SPEC, one of: core, rv, SITE (its first host),
# SITE/h1, SITE/h2, SITE/r (its router), or a namespace name itself.
lab_ns() {
  local spec=$1
  case $spec in
    core) echo "$LAB_CORE_NS" ;;
    rv) echo "$LAB_RV_NS" ;;
    */r) lab__site_index "${spec%/r}" >/dev/null && echo "$LAB_PREFIX-${spec%/r}-r" ;;
    */h[0-9]) lab__site_index "${spec%/h*}" >/dev/null && echo "$LAB_PREFIX-${spec%/h*}-${spec##*/}" ;;
    "$LAB_PREFIX"-*) echo "$spec" ;;
    *) lab__site_index "$spec" >/dev/null && echo "$LAB_PREFIX-$spec-h1" ;;
  esac
}

# lab_exec SPEC CMD...: runs CMD in the namespace SPEC names (see lab_ns).
lab_exec() {
  local ns
  ns=$(lab_ns "$1") || exit 1
  shift
  ip netns exec "$ns" "$@"
}

# lab_spawn SPEC NAME CMD...: starts CMD in the background in SPEC's namespace, output
# to $LAB_WORK/NAME.log; its PID is remembered (ended at cleanup) and put in LAB_LAST_PID.
# CMD must end by itself in bounded time (udp_probe echo has --lifetime).
lab_spawn() {
  local ns name=$2
  ns=$(lab_ns "$1") || exit 1
  shift 2
  ip netns exec "$ns" "$@" >"$LAB_WORK/$name.log" 2>&1 &
  LAB_LAST_PID=$!
  LAB_PIDS+=("$LAB_LAST_PID")
}

# lab_stop PID: ends one process started by lab_spawn.
lab_stop() {
  kill -TERM "$1" 2>/dev/null || true
  lab__reap "$1"
}

# lab_wait_for FILE PATTERN SECS: waits (bounded) until a line of FILE matches PATTERN.
lab_wait_for() {
  local file=$1 pattern=$2 n limit=$(($3 * 20))
  for ((n = 0; n < limit; n++)); do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  lab_fail "timed out after ${3}s waiting for '$pattern' in $file"
}

# lab_site NAME TYPE [HOSTS]: a router of TYPE (open, fw, easy, hard, pool, udpblock)
# on the core, and HOSTS (1 or 2, default 1) hosts behind it on one LAN (a bridge in
# the router namespace). Namespaces: $LAB_PREFIX-NAME-r, -NAME-h1, -NAME-h2.
lab_site() {
  local name=$1 type=$2 hosts=${3:-1}
  [[ $name =~ ^[a-z][a-z0-9]{0,11}$ ]] || lab_fail "site name '$name': lowercase, up to 12 chars"
  [[ " $LAB_TYPES " == *" $type "* ]] || lab_fail "unknown router type '$type' ($LAB_TYPES)"
  [[ $hosts == 1 || $hosts == 2 ]] || lab_fail "a site has 1 or 2 hosts"
  [ -z "${LAB_SITE_INDEX[$name]:-}" ] || lab_fail "site '$name' exists"
  [ "$LAB_NEXT_INDEX" -le 15 ] || lab_fail "at most 15 sites"
  lab_core
  local i=$LAB_NEXT_INDEX
  LAB_NEXT_INDEX=$((i + 1))
  LAB_SITE_INDEX[$name]=$i
  LAB_SITE_TYPE[$name]=$type
  LAB_SITE_HOSTS[$name]=$hosts
  local r="$LAB_PREFIX-$name-r" core_if="s$i"
  local core_addr wan gw
  core_addr=$(lab_core_addr "$name")
  wan=$(lab_wan_addr "$name")
  gw=$(lab_lan_gw "$name")

  lab__ns_add "$r" router
  lab__link "$LAB_CORE_NS" "$core_if" "$r" wan
  ip -n "$LAB_CORE_NS" addr add "$core_addr/30" dev "$core_if"
  ip -n "$r" addr add "$wan/30" dev wan
  ip -n "$r" route add default via "$core_addr"

  ip -n "$r" link add lan type bridge
  ip -n "$r" link set lan up
  local prefix
  case $type in
    open | fw) prefix=29 ;;
    *) prefix=28 ;;
  esac
  ip -n "$r" addr add "$gw/$prefix" dev lan
  case $type in
    open | fw) ip -n "$LAB_CORE_NS" route add "203.0.113.$((16 * i + 8))/29" via "$wan" ;;
  esac

  local n h
  for ((n = 1; n <= hosts; n++)); do
    h="$LAB_PREFIX-$name-h$n"
    lab__ns_add "$h"
    lab__link "$r" "h$n" "$h" eth0
    ip -n "$r" link set "h$n" master lan
    ip -n "$h" addr add "$(lab_host_addr "$name" "$n")/$prefix" dev eth0
    ip -n "$h" route add default via "$gw"
  done

  local nat="" filter=""
  case $type in
    open) ;;
    fw) filter='ct state established,related accept
    iifname "wan" drop' ;;
    easy) nat='oifname "wan" masquerade' ;;
    hard) nat='oifname "wan" masquerade fully-random' ;;
    pool) nat="oifname \"wan\" snat to $(lab_pool_first "$name")-$(lab_pool_last "$name") fully-random" ;;
    udpblock)
      nat='oifname "wan" masquerade'
      filter='meta l4proto udp oifname "wan" drop
    meta l4proto udp iifname "wan" drop' ;;
  esac
  # Every NAT also filters like a home router: only replies come in from the wan.
  case $type in
    easy | hard | pool | udpblock)
      filter="$filter
    ct state established,related accept
    iifname \"wan\" drop" ;;
  esac
  if [ "$type" = pool ]; then
    # The pool's addresses are the router's own (like the wan address under
    # masquerade): the core routes them here, and an unsolicited datagram to one is
    # delivered locally (conntrack sees it, as in LAB.md trap 1) instead of looping.
    local a
    for ((a = 16 * i + 4; a <= 16 * i + 7; a++)); do
      ip -n "$r" addr add "203.0.113.$a/32" dev lo
    done
    ip -n "$LAB_CORE_NS" route add "203.0.113.$((16 * i + 4))/30" via "$wan"
  fi
  # No input filter: a datagram to the router's own address is conntracked, so the
  # crossing-packets trap of LAB.md can be reproduced.
  {
    echo "table ip lab {"
    if [ -n "$filter" ]; then
      echo "  chain forward {"
      echo "    type filter hook forward priority filter; policy accept;"
      echo "    $filter"
      echo "  }"
    fi
    if [ -n "$nat" ]; then
      echo "  chain postrouting {"
      echo "    type nat hook postrouting priority srcnat; policy accept;"
      echo "    $nat"
      echo "  }"
    fi
    echo "}"
  } >"$LAB_WORK/nft-$name.conf"
  ip netns exec "$r" nft -f "$LAB_WORK/nft-$name.conf" || lab_fail "nft rules for site $name ($type)"
}

# lab_site_two_hosts NAME TYPE: a site with two hosts on one LAN (same-LAN tests).
lab_site_two_hosts() { lab_site "$1" "$2" 2; }

# lab_udp_timeouts SPEC SECS STREAM_SECS: conntrack UDP timeouts in one namespace
# (SITE means its router): unreplied/single-direction flows, and flows that saw
# traffic both ways (defaults 30 s and 120 s).
lab_udp_timeouts() {
  local spec=$1
  [ -n "${LAB_SITE_INDEX[$spec]:-}" ] && spec="$spec/r"
  lab_exec "$spec" sysctl -qw "net.netfilter.nf_conntrack_udp_timeout=$2" \
    "net.netfilter.nf_conntrack_udp_timeout_stream=$3" >/dev/null ||
    lab_fail "cannot set UDP conntrack timeouts in $1"
}

# lab_block_udp_between SITE_A SITE_B / lab_unblock_udp_between SITE_A SITE_B: drop
# (or stop dropping) every UDP datagram between the two sites' public blocks, both
# ways, in the core. Traffic to the rendezvous is not affected.
lab_block_udp_between() {
  local a b
  a=$(lab_site_block "$1") && b=$(lab_site_block "$2") || exit 1
  lab_exec core nft add element ip lab blocked "{ $a . $b, $b . $a }" ||
    lab_fail "block $1 <-> $2"
}
lab_unblock_udp_between() {
  local a b
  a=$(lab_site_block "$1") && b=$(lab_site_block "$2") || exit 1
  lab_exec core nft delete element ip lab blocked "{ $a . $b, $b . $a }" ||
    lab_fail "unblock $1 <-> $2"
}

# lab_conntrack SPEC ARGS...: conntrack -L ARGS in SPEC's namespace (SITE = router),
# entries on stdout, nothing else.
lab_conntrack() {
  local spec=$1
  shift
  [ -n "${LAB_SITE_INDEX[$spec]:-}" ] && spec="$spec/r"
  lab_exec "$spec" conntrack -L "$@" 2>/dev/null || true
}

# --- running punch in the lab ----------------------------------------------------
# The directory of this file, and its byte pump / event reader (lab_io.py --help).
LAB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_IO="$LAB_LIB_DIR/lab_io.py"

# lab_now: wall-clock time in seconds since the epoch (ns), comparable with event ts.
lab_now() { date +%s.%N; }

# lab_elapsed FROM [TO]: TO - FROM in seconds with two decimals (TO defaults to now).
lab_elapsed() { awk -v a="$1" -v b="${2:-$(lab_now)}" 'BEGIN { printf "%.2f", b - a }'; }

# lab_wait_pid PID SECS: waits (bounded) for a process started by lab_spawn to end and
# returns its exit status; fails the test if it still runs after SECS.
lab_wait_pid() {
  local pid=$1 n limit=$(($2 * 20))
  for ((n = 0; n < limit; n++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && lab_fail "process $pid still running after ${2}s"
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}

# lab_keygen NAME: a punch key in $LAB_WORK/NAME.key; prints its node ID. Keys and
# authorized_peers stay in $LAB_WORK (PUNCH_HOME), never in the caller's home.
lab_keygen() {
  export PUNCH_HOME="$LAB_WORK/home"
  "${PUNCH_BIN:?PUNCH_BIN must point at the punch binary}" keygen -k "$LAB_WORK/$1.key"
}

# lab_rendezvous [PORT [ARG...]]: punch rendezvous on $LAB_RV:PORT (default 7000) in
# the rv namespace, with ARGs appended (e.g. --probe-address 192.0.2.3), events in
# $LAB_WORK/rv.events, lifetime bounded by timeout(1) (default 600 s,
# LAB_RV_LIFETIME); waits until it listens. Sets LAB_RV_ENDPOINT (HOST:PORT).
lab_rendezvous() {
  local port=${1:-7000}
  shift || true
  LAB_RV_ENDPOINT="$LAB_RV:$port"
  lab_spawn rv rendezvous timeout "${LAB_RV_LIFETIME:-600}" \
    "${PUNCH_BIN:?PUNCH_BIN must point at the punch binary}" rendezvous \
    -l "$LAB_RV_ENDPOINT" --events "$LAB_WORK/rv.events" "$@"
  lab_wait_for "$LAB_WORK/rv.events" '"event":"listening"' 10
}

# lab_paths EVENTS: the "path" events of a punch --events file, one per line:
# EPOCH PATH ADDRESS RTT_MS (EPOCH in seconds, from the event's ts).
lab_paths() { python3 "$LAB_IO" paths "$1"; }

# lab_last_path EVENTS: "PATH ADDRESS" of the last path event (the session's current
# path), or "none -".
lab_last_path() {
  lab_paths "$1" | awk '{ p = $2 " " $3 } END { print (p == "" ? "none -" : p) }'
}

# lab_path_history EVENTS: the sequence of paths, e.g. "relay>direct>relay", or "none".
lab_path_history() {
  lab_paths "$1" | awk '{ h = (h == "" ? $2 : h ">" $2) } END { print (h == "" ? "none" : h) }'
}

# lab_wait_path EVENTS PATH SECS [AFTER]: waits (bounded) for a path event of PATH
# (relay or direct) stamped at or after AFTER (epoch seconds, default 0); prints
# "EPOCH ADDRESS" of the first such event and returns 0, or returns 1 after SECS of
# wall-clock time. It does not fail the test itself: the caller says which pair and
# what path it saw. The file is parsed again only when it grew.
lab_wait_path() {
  local file=$1 path=$2 secs=$3 after=${4:-0} n size last=-1 hit deadline
  deadline=$(awk -v now="$(lab_now)" -v s="$secs" 'BEGIN { printf "%.3f", now + s }')
  for ((n = 0; n < secs * 20 + 20; n++)); do
    size=$(stat -c %s "$file" 2>/dev/null || echo 0)
    if [ "$size" != "$last" ] && grep -q "\"path\": *\"$path\"" "$file" 2>/dev/null; then
      last=$size
      # ts has millisecond resolution: accept an event stamped up to 1 ms before AFTER.
      hit=$(lab_paths "$file" | awk -v p="$path" -v t="$after" \
        '$2 == p && $1 >= t - 0.001 { print $1, $3; exit }')
      [ -n "$hit" ] && { echo "$hit"; return 0; }
    fi
    awk -v now="$(lab_now)" -v d="$deadline" 'BEGIN { exit !(now >= d) }' && return 1
    sleep 0.05
  done
  return 1
}

# --- assertions about the direct path ----------------------------------------------
# They are kept apart from the rest, so that the lab mechanics (topology, transfers,
# timing, cleanup) can be checked against a binary without a direct path:
# PUNCH_LAB_DIRECT=soft reports failed direct-path assertions without failing.
LAB_DIRECT_FAILS=()

# lab_direct_soft: true when direct-path assertions only report (PUNCH_LAB_DIRECT=soft).
lab_direct_soft() { [ "${PUNCH_LAB_DIRECT:-}" = soft ]; }

# lab_direct_fail MSG: records a failed direct-path assertion (say which pair and what
# path was seen) and prints it at once; lab_direct_verdict judges them all at the end.
lab_direct_fail() {
  LAB_DIRECT_FAILS+=("$*")
  echo "FAIL (direct path): $*" >&2
}

# lab_direct_verdict: fails the test if a direct-path assertion failed, unless soft.
lab_direct_verdict() {
  [ "${#LAB_DIRECT_FAILS[@]}" = 0 ] && return 0
  if lab_direct_soft; then
    echo "SOFT: ${#LAB_DIRECT_FAILS[@]} direct-path assertion(s) failed (printed above)," \
      "not counted: PUNCH_LAB_DIRECT=soft" >&2
    return 0
  fi
  lab_fail "${#LAB_DIRECT_FAILS[@]} direct-path assertion(s) failed"
}

# --- counting packets on a router ------------------------------------------------
# lab_count SITE NAME HOOK MATCH...: a named nftables counter NAME on SITE's router
# counting the packets that match MATCH (nft syntax, e.g. iifname "lan" oifname "lan")
# at HOOK (prerouting, input, forward, output, postrouting). It lives in its own table
# "labcount" at priority -150: after conntrack, before NAT and before the router's
# filter, so packets the filter drops are counted too.
lab_count() {
  local site=$1 name=$2 hook=$3 ns
  shift 3
  ns=$(lab_ns "$site/r") || exit 1
  printf 'table ip labcount {\n  counter %s { }\n  chain %s { type filter hook %s priority -150; policy accept; }\n}\n' \
    "$name" "$hook" "$hook" | ip netns exec "$ns" nft -f - || lab_fail "counter $name on $site"
  ip netns exec "$ns" nft add rule ip labcount "$hook" "$@" counter name "$name" ||
    lab_fail "rule for counter $name on $site: $*"
}

# lab_count_read SITE NAME: "PACKETS BYTES" of a lab_count counter.
lab_count_read() {
  local ns out
  ns=$(lab_ns "$1/r") || exit 1
  out=$(ip netns exec "$ns" nft list counter ip labcount "$2") || lab_fail "read counter $2 on $1"
  sed -n 's/.*packets \([0-9]*\) bytes \([0-9]*\).*/\1 \2/p' <<<"$out"
}

# lab_sweep_stale: for manual use after a run was killed with SIGKILL (no trap runs
# then): deletes lab namespaces whose owning shell ($$ in the prefix) is gone. Never
# called by tests, since it touches namespaces this run did not create.
#   bash -c '. tests/lab/lab.sh; lab_sweep_stale'
lab_sweep_stale() {
  local ns pid
  for ns in $(ip netns list | awk '{print $1}' | grep -E '^pl[0-9]+-[0-9a-f]{6}-' || true); do
    pid=${ns#pl}
    pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null && continue
    echo "lab: deleting stale namespace $ns" >&2
    ip netns delete "$ns" || true
  done
}
