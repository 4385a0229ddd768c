// The rendezvous core (sans-I/O): registers nodes that prove their key, tells
// each the address it is seen from, introduces connectors to listeners, and
// relays session packets between two peers that both agreed. Never answers an
// unauthenticated datagram with more bytes than it carried (not a reflector).
// Its main port, its probe port and any probe addresses on other IPs of the host
// answer address probes, each from the socket the probe arrived on.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crypto/random.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"
#include "util/datagram_sink.hpp"
#include "util/time.hpp"

namespace punch::rendezvous {

/// Counters, for logs, --events and tests.
struct ServerStats {
  std::uint64_t datagrams_received = 0;
  std::uint64_t dropped_malformed = 0;         ///< Undecodable or unknown type.
  std::uint64_t dropped_unauthenticated = 0;   ///< Bad cookie, signature, token, or relay sender.
  std::uint64_t dropped_rate_limited = 0;      ///< Includes REGISTERs over a failure budget.
  std::uint64_t dropped_unproven_address = 0;  ///< Valid token, but not from the registration's
                                               ///< address: answered with UNKNOWN, not moved.
  std::uint64_t signature_checks = 0;          ///< ECDSA verifications run (the costly step).
  std::uint64_t dropped_no_relay = 0;          ///< Session packet for an unknown or pending relay.
  std::uint64_t registrations = 0;             ///< Live registrations now.
  std::uint64_t relays = 0;                    ///< Live relay entries now.
  std::uint64_t relayed_packets = 0;
  std::uint64_t relayed_bytes = 0;
  std::uint64_t address_probes_answered = 0;       ///< PROBE_REPLYs sent, from any port.
  std::uint64_t probe_address_lists_answered = 0;  ///< PROBE_LISTs sent (main port only).
};

/// Callbacks for things an operator wants to see (registered, relay up/down).
class ServerObserver {
 public:
  virtual ~ServerObserver() = default;
  /// A node registered from `from`, or its registration moved there or changed role
  /// (not called for refreshes, which are routine).
  virtual void on_registered(const std::string& node_id, const util::Address& from) = 0;
  /// A relay between two registered peers was set up for `connection_id`.
  virtual void on_relay_up(std::uint64_t connection_id, const std::string& connector,
                           const std::string& listener) = 0;
};

/// The rendezvous protocol engine; one instance serves one UDP socket.
class Server {
 public:
  /// `rng` and `sink` must outlive the server; `observer` may be null.
  Server(crypto::RandomSource& rng, util::DatagramSink& sink, ServerObserver* observer,
         util::TimePoint now);
  Server(Server&&) noexcept;
  Server& operator=(Server&&) noexcept;
  ~Server();

  /// Handles one datagram from `from`; garbage is counted and dropped.
  void on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now);
  /// Handles one datagram that arrived on the probe port (or a probe address): only
  /// an address probe (PROBE) is answered there, through `reply_via` (that socket), so
  /// the reply leaves from where the address probe was sent to; everything else is
  /// counted and dropped.
  void on_probe_socket_datagram(const util::Address& from, util::ByteView data,
                                util::DatagramSink& reply_via, util::TimePoint now);
  /// Announces `port` (the probe port on our main IP, 0: none) in every REGISTERED from
  /// now on, so endpoints can learn their NAT's mapping behaviour by probing it.
  void set_probe_port(std::uint16_t port);
  /// Also announces `addresses` (probe sockets on other IPs of this host, each with a
  /// port; at most wire::kMaxProbeAddresses - 1) in every REGISTERED to a client of
  /// the same address family: only a second IP shows a pool NAT that picks its address
  /// by destination IP (docs/netcheck.md).
  void set_probe_addresses(std::vector<util::Address> addresses);
  /// When on_timeout() must next run (expiry of registrations and relays).
  util::TimePoint next_deadline() const;
  /// Expires what is due at `now`.
  void on_timeout(util::TimePoint now);
  /// Current counters.
  ServerStats stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace punch::rendezvous
