// An in-memory network for rendezvous tests: one Server and any number of
// RendezvousClients, datagrams queued by fake sinks and delivered in order with
// zero latency, virtual time advanced from deadline to deadline by the shared
// sim::VirtualLoop. Shared by server_test.cpp and session/rendezvous_client_test.cpp.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "rendezvous/server.hpp"
#include "session/rendezvous_client.hpp"
#include "sim/virtual_loop.hpp"
#include "util/address.hpp"
#include "util/datagram_sink.hpp"
#include "util/time.hpp"

namespace punch::rendezvous::test {

/// One datagram in flight.
struct Datagram {
  util::Address from;
  util::Address to;
  util::Bytes data;
};

/// Makes a key pair deterministically from `seed`.
inline crypto::Identity make_identity(std::uint64_t seed) {
  crypto::SeededRandom rng(seed);
  auto id = crypto::Identity::generate(rng);
  REQUIRE(id.ok());
  return std::move(id.value());
}

/// The network: the server, the clients, the queue and the clock.
class TestNet {
 public:
  /// A sink that queues what its owner sends, stamped with the owner's address
  /// (which a test may change to simulate NAT rebinding).
  class Sink final : public util::DatagramSink {
   public:
    Sink(TestNet& net, util::Address self_address) : self(self_address), net_(net) {}
    void send(const util::Address& to, util::ByteView data) override {
      net_.queue_.push_back({self, to, util::Bytes(data.begin(), data.end())});
    }
    util::Address self;

   private:
    TestNet& net_;
  };

  /// A client with its own sink, randomness and collected events.
  struct Endpoint {
    std::unique_ptr<Sink> sink;
    std::unique_ptr<crypto::SeededRandom> rng;
    std::unique_ptr<session::RendezvousClient> client;
    std::vector<session::RendezvousEvent> events;

    /// The address the endpoint sends from now.
    const util::Address& address() const { return sink->self; }
    /// Events of kind `k` so far.
    std::size_t count(session::RendezvousEvent::Kind k) const {
      return static_cast<std::size_t>(
          std::count_if(events.begin(), events.end(), [k](const auto& e) { return e.kind == k; }));
    }
    /// The last event of kind `k`; fails the test if there is none.
    const session::RendezvousEvent& last(session::RendezvousEvent::Kind k) const {
      for (auto it = events.rbegin(); it != events.rend(); ++it)
        if (it->kind == k) return *it;
      FAIL("no event of the requested kind");
      return events.front();
    }
  };

  TestNet() { restart_server(); }

  /// Replaces the server by a fresh one (all state lost, as after a restart).
  void restart_server() {
    server = std::make_unique<Server>(server_rng_, server_sink_, observer, now());
  }

  /// Adds a client at `address`; it starts registering at once unless `start` is false.
  Endpoint& add_client(const crypto::Identity& identity, util::Address address, bool listener,
                       bool start = true) {
    auto ep = std::make_unique<Endpoint>();
    ep->sink = std::make_unique<Sink>(*this, address);
    ep->rng = std::make_unique<crypto::SeededRandom>(next_seed_++);
    ep->client = std::make_unique<session::RendezvousClient>(identity, server_address, listener,
                                                             *ep->rng, *ep->sink);
    endpoints_.push_back(std::move(ep));
    Endpoint& e = *endpoints_.back();
    if (start) {
      e.client->start(now());
      settle();
    }
    return e;
  }

  /// Same, for a key the net keeps alive as long as the client (a temporary).
  Endpoint& add_client(crypto::Identity&& identity, util::Address address, bool listener,
                       bool start = true) {
    auto owned = std::make_unique<crypto::Identity>(std::move(identity));
    const crypto::Identity& ref = *owned;
    owned_identities_.push_back(std::move(owned));
    return add_client(ref, address, listener, start);
  }

  /// Sends raw bytes from `from` to the server and delivers everything that follows.
  void inject(const util::Address& from, util::ByteView data) {
    queue_.push_back({from, server_address, util::Bytes(data.begin(), data.end())});
    settle();
  }

  /// Delivers queued datagrams (and whatever they cause) until the queue is empty.
  void settle() {
    for (int guard = 0; !queue_.empty(); ++guard) {
      REQUIRE(guard < 1'000'000);
      Datagram d = std::move(queue_.front());
      queue_.pop_front();
      if (drop && drop(d)) continue;
      if (d.to == server_address) {
        received_by_server[d.from] += d.data.size();
        if (server) server->on_datagram(d.from, d.data, now());
        continue;
      }
      if (d.from == server_address) sent_by_server[d.to] += d.data.size();
      Endpoint* ep = find(d.to);
      if (ep != nullptr && session::RendezvousClient::is_control(d.data)) {
        ep->client->on_datagram(d.from, d.data, now());
      } else {
        inbox[d.to].push_back(std::move(d));
      }
    }
    collect_events();
  }

  /// Advances the clock to `t`, running every timer due on the way.
  void run_until(util::TimePoint t) {
    REQUIRE(loop_.run_to(t));
    settle();
  }

  /// Advances the clock by `d`.
  void run_for(util::Duration d) { run_until(now() + d); }

  /// Current virtual time.
  util::TimePoint now() const { return loop_.now(); }

  /// The endpoint currently at `address`, or null.
  Endpoint* find(const util::Address& address) {
    for (const auto& ep : endpoints_)
      if (ep->sink->self == address) return ep.get();
    return nullptr;
  }

  util::Address server_address = util::Address::v4(198, 51, 100, 1, 3478);
  std::unique_ptr<Server> server;
  /// Given to the server by the next restart_server() (null: none).
  ServerObserver* observer = nullptr;
  /// Returns true for datagrams the network loses.
  std::function<bool(const Datagram&)> drop;
  /// Datagrams for endpoints that are not control (session packets), and anything
  /// for addresses with no endpoint, by destination.
  std::map<util::Address, std::vector<Datagram>> inbox;
  /// Bytes the server received from, and sent to, each address.
  std::map<util::Address, std::uint64_t> received_by_server;
  std::map<util::Address, std::uint64_t> sent_by_server;

 private:
  util::TimePoint next_deadline() const {
    util::TimePoint next = server ? server->next_deadline() : util::kNever;
    for (const auto& ep : endpoints_) next = std::min(next, ep->client->next_deadline());
    return next;
  }

  void run_timers() {
    if (server && server->next_deadline() <= now()) server->on_timeout(now());
    for (const auto& ep : endpoints_)
      if (ep->client->next_deadline() <= now()) ep->client->on_timeout(now());
  }

  void collect_events() {
    for (const auto& ep : endpoints_)
      while (auto ev = ep->client->poll_event()) ep->events.push_back(std::move(*ev));
  }

  crypto::SeededRandom server_rng_{0x5e57};
  Sink server_sink_{*this, server_address};
  std::deque<Datagram> queue_;
  std::vector<std::unique_ptr<crypto::Identity>> owned_identities_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::uint64_t next_seed_ = 100;
  // Timers, then everything they caused, delivered at once.
  sim::VirtualLoop loop_{
      sim::LoopConfig{util::TimePoint{} + std::chrono::hours(1), 20'000'000, false, true},
      sim::LoopModel{[this] { return next_deadline(); }, [this] { run_timers(); },
                     [this] { settle(); }}};
};

}  // namespace punch::rendezvous::test
