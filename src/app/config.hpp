// Plain configuration structs: what cli/ builds from argv and the environment,
// and what app/ runs. No parsing and no I/O here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "forward/forward_spec.hpp"
#include "path/path_manager.hpp"
#include "util/address.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace punch::app {

/// Options every command takes.
struct CommonConfig {
  /// Key file (-k); already resolved from $PUNCH_HOME or ~/.config/punch by cli/.
  std::string key_path;
  /// JSON Lines event log (--events); empty for none.
  std::string events_path;
  /// Stderr verbosity (-v / -q).
  util::LogLevel log_level = util::LogLevel::kInfo;
};

/// `punch keygen`: create a key and print its ID.
struct KeygenConfig {
  CommonConfig common;
  bool force = false;  ///< Replace an existing key file.
};

/// `punch id`: print the ID of the key.
struct IdConfig {
  CommonConfig common;
};

/// Default rendezvous UDP port when -r names only a host.
inline constexpr std::uint16_t kDefaultRendezvousPort = 7777;
/// Default probe port of the rendezvous (same IP): the next port up, easy to open in
/// the same firewall rule.
inline constexpr std::uint16_t kDefaultProbePort = 7778;
/// Most --probe-address options: REGISTERED carries at most 5 probe addresses
/// (wire::kMaxProbeAddresses), one of them the probe port on the main IP; 4 other IPs
/// already miss a 4-address Linux pool only 0.4 % of the time (docs/netcheck.md).
inline constexpr std::size_t kMaxProbeAddressOptions = 4;

/// `punch rendezvous`: run the public introduction and relay server.
struct RendezvousConfig {
  CommonConfig common;
  std::string listen = "0.0.0.0:7777";  ///< UDP HOST:PORT to bind.
  /// Second UDP port on the listen IP that answers address probes (netcheck): 0 picks
  /// a free one, nullopt turns it off. cli/ makes the default 7778, or 0 when the
  /// listen port is 0 (so test servers on free ports never fight over 7778).
  std::optional<std::uint16_t> probe_port = kDefaultProbePort;
  /// --probe-port was given: failing to bind it is fatal. The default is not, so a
  /// second server on one host (where 7778 is taken) still starts, without probes.
  bool probe_port_required = false;
  /// --probe-address: probe sockets on other IPs of this host (specific IPs, each with
  /// its port; 0 picks a free one), at most kMaxProbeAddressOptions. They show a pool
  /// NAT that picks its address by destination IP, which two ports of one IP cannot.
  std::vector<util::Address> probe_addresses;
};

/// `punch netcheck`: probe the rendezvous's two ports and report the NAT's behaviour.
struct NetcheckConfig {
  CommonConfig common;
  std::string rendezvous;  ///< HOST[:PORT], port defaulted by app/.
  /// HOST[:PORT] of the probe port; empty: the rendezvous's host, port kDefaultProbePort.
  std::string probe;
  bool json = false;  ///< --json: one JSON object on stdout instead of lines for people.
};

/// `punch listen`: accept sessions from allowed connectors.
struct ListenConfig {
  CommonConfig common;
  std::string rendezvous;                ///< HOST[:PORT], port defaulted by app/.
  std::vector<std::string> allow;        ///< --allow IDs (validated by app/).
  bool allow_any = false;                ///< --allow-any
  std::string authorized_peers_path;     ///< Resolved path of authorized_peers.
  bool no_stdio = false;                 ///< -N: serve forwards only, never stdio.
  std::vector<std::string> permit_open;  ///< --permit-open HOST:PORT patterns (validated).
  bool gateway_ports = false;            ///< --gateway-ports: -R may bind beyond loopback.
  util::Duration idle_timeout{};         ///< --idle-timeout for served forwards; zero: off.
  bool relay_only = false;               ///< --relay-only: never try a direct path.
  path::BirthdayConfig birthday;         ///< --birthday-sockets, -rate, -probes (guesses).
};

/// `punch connect`: open a session to a listener and tunnel stdio and forwards.
struct ConnectConfig {
  CommonConfig common;
  std::string rendezvous;  ///< HOST[:PORT]
  std::string peer;        ///< Listener's ID (validated by app/).
  /// HOST:PORT the listener connects stdio to (ssh -W); unset: the listener's stdio.
  std::optional<forward::HostPort> target;
  std::vector<forward::ForwardSpec> local;    ///< -L
  std::vector<forward::ForwardSpec> remote;   ///< -R
  std::vector<forward::DynamicSpec> dynamic;  ///< -D
  bool no_stdio = false;                      ///< -N: forwards only.
  /// --socks-user USER:PASS (or read from --socks-user-file): -D demands it.
  std::optional<std::pair<std::string, std::string>> socks_credentials;
  /// --relay-only: never try a direct path; the session stays on the rendezvous relay.
  bool relay_only = false;
  /// --birthday-sockets, --birthday-rate, --birthday-probes: port guessing against a hard NAT.
  path::BirthdayConfig birthday;
  /// --idle-timeout: reset -L, -R and -D connections idle this long; zero: off.
  util::Duration idle_timeout{};
};

/// What main() should do: one of the commands.
using Command = std::variant<KeygenConfig, IdConfig, RendezvousConfig, ListenConfig, ConnectConfig,
                             NetcheckConfig>;

}  // namespace punch::app
