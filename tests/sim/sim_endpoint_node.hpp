// A session::Endpoint running on a simulated host: its own identity and seeded
// randomness, its host address offered as a host candidate (as the app offers its
// interface addresses), every event kept with the virtual time it was polled, and
// the app's own session reactions (app::TunnelPolicy: every invite accepted, as
// `punch listen --allow-any` does; ended sessions closed).
// Its extra sockets (the birthday prober's) are more ports of its host's IP, through
// a SimSocketPool the endpoint is built with.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "app/tunnel_policy.hpp"
#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "path/path_manager.hpp"
#include "session/endpoint.hpp"
#include "sim/sim_net.hpp"
#include "sim/sim_node.hpp"
#include "sim/sim_socket_pool.hpp"

namespace punch::sim {

/// An endpoint event and when the app saw it.
struct TimedEvent {
  session::EndpointEvent event;  ///< The event.
  util::TimePoint at;            ///< Virtual time it was polled.
};

/// The tunnel endpoint core on a host of a sim::Network.
class EndpointNode final : public SimNode {
 public:
  /// What the app does with each event (after it was recorded).
  using Reaction = std::function<void(EndpointNode&, const session::EndpointEvent&)>;

  /// Starts an endpoint on `host` of `net` (attaching itself) that registers with
  /// `rendezvous`, as a listener when `listener`, with `path_config` for its sessions;
  /// its key pair and randomness come from `seed`. `net` must outlive it.
  EndpointNode(Network& net, HostId host, const util::Address& rendezvous, bool listener,
               std::uint64_t seed, const path::PathConfig& path_config = {});
  ~EndpointNode() override;
  EndpointNode(const EndpointNode&) = delete;
  EndpointNode& operator=(const EndpointNode&) = delete;

  /// The endpoint core.
  session::Endpoint& endpoint() { return endpoint_; }
  /// This endpoint's key pair (its ID is what a connector names).
  const crypto::Identity& identity() const { return identity_; }
  /// The host's socket address (private behind a NAT).
  const util::Address& address() const { return net_.address(host_); }
  /// The host of the main socket.
  HostId host() const { return host_; }
  /// The extra sockets the endpoint opened (and closed).
  const SimSocketPool& pool() const { return pool_; }
  /// The extra sockets, to limit them (SimSocketPool::set_limit).
  SimSocketPool& pool() { return pool_; }
  /// Every event so far, in order.
  const std::vector<TimedEvent>& events() const { return events_; }
  /// The first event of `kind`, or null.
  const TimedEvent* first(session::EndpointEvent::Kind kind) const;
  /// True once an event of `kind` was seen.
  bool has(session::EndpointEvent::Kind kind) const { return first(kind) != nullptr; }
  /// The first path event of `kind` (with `direct` as given, for kSwitched), or null.
  const TimedEvent* first_path(path::PathEvent::Kind kind, bool direct = true) const;
  /// The app's session reactions this node runs.
  const app::TunnelPolicy& policy() const { return policy_; }
  /// Sets what the app does with each event.
  void set_reaction(Reaction reaction) { reaction_ = std::move(reaction); }
  /// Opens a session to `target` now (a connector's policy has no target of its own:
  /// the scenario decides when); returns its connection ID.
  std::uint64_t connect(const crypto::NodeId& target);

  void on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now) override;
  void on_timeout(util::TimePoint now) override;
  util::TimePoint next_deadline() const override;
  void flush(util::TimePoint now) override;

 private:
  static crypto::Identity make_identity(crypto::RandomSource& rng);
  void execute(const app::TunnelCommand& c);

  Network& net_;
  HostId host_;
  crypto::SeededRandom rng_;
  crypto::Identity identity_;
  SimSocketPool pool_;  // Before endpoint_, which uses it until destroyed.
  session::Endpoint endpoint_;
  std::vector<TimedEvent> events_;
  Reaction reaction_;
  app::TunnelPolicy policy_;
  util::TimePoint now_{};  // of the flush whose events the policy handles
};

}  // namespace punch::sim
