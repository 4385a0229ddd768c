// Issue 17, finding 1: invitations a listener leaves unanswered (a flood from keys it
// refuses, faster than its paced REFUSEs) must not lock an allowed connector out.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "rendezvous/constants.hpp"
#include "rendezvous/server.hpp"
#include "unit/rendezvous/test_net.hpp"

namespace {

namespace rv = punch::rendezvous;
namespace util = punch::util;
using rv::test::TestNet;
using InviteKind = punch::session::RendezvousEvent::Kind;
using namespace std::chrono_literals;

const util::Address kInvitedListener = util::Address::v4(203, 0, 113, 10, 40000);
const util::Address kAllowedConnector = util::Address::v4(203, 0, 113, 20, 50000);

// Four connectors on four IPs, each asking for `per_flooder` sessions with `target`.
std::vector<TestNet::Endpoint*> flood(TestNet& net, const punch::crypto::NodeId& target,
                                      std::uint64_t per_flooder) {
  std::vector<TestNet::Endpoint*> flooders;
  for (std::uint8_t i = 0; i < 4; ++i) {
    TestNet::Endpoint& f = net.add_client(rv::test::make_identity(50 + i),
                                          util::Address::v4(192, 0, 2, 100 + i, 7000), false);
    for (std::uint64_t n = 0; n < per_flooder; ++n)
      f.client->connect(1000 * (i + 1) + n, target, net.now());
    net.settle();
    flooders.push_back(&f);
  }
  return flooders;
}

}  // namespace

TEST_CASE("server: unanswered invitations filling a listener give way to a new CONNECT") {
  TestNet net;
  const auto lid = rv::test::make_identity(1);
  TestNet::Endpoint& listener = net.add_client(lid, kInvitedListener, true);
  const auto flooders = flood(net, lid.id(), rv::kMaxRelaysPerRegistration / 4);
  REQUIRE(listener.count(InviteKind::kInvite) == rv::kMaxRelaysPerRegistration);
  REQUIRE(net.server->stats().relays == rv::kMaxRelaysPerRegistration);

  // The listener answered none of them; an allowed connector still gets its invitation.
  TestNet::Endpoint& allowed = net.add_client(rv::test::make_identity(2), kAllowedConnector, false);
  allowed.client->connect(777, lid.id(), net.now());
  net.settle();
  REQUIRE(listener.count(InviteKind::kInvite) == rv::kMaxRelaysPerRegistration + 1);
  CHECK(listener.last(InviteKind::kInvite).connection_id == 777);
  listener.client->accept(777, net.now());
  net.settle();
  CHECK(allowed.count(InviteKind::kConnectFailed) == 0);
  REQUIRE(allowed.count(InviteKind::kConnectOk) == 1);
  // The oldest unanswered invitation made room, silently: its connector may ask again.
  CHECK(net.server->stats().relays == rv::kMaxRelaysPerRegistration);
  for (const TestNet::Endpoint* f : flooders) CHECK(f->count(InviteKind::kConnectFailed) == 0);
  // Its retransmitted CONNECT invites the listener again (the oldest pending gives way).
  net.run_for(600ms);
  CHECK(net.server->stats().relays == rv::kMaxRelaysPerRegistration);
  CHECK(allowed.count(InviteKind::kConnectOk) == 1);
}

TEST_CASE("server: a listener whose relays are all accepted still answers CONNECT with limit") {
  TestNet net;
  const auto lid = rv::test::make_identity(1);
  TestNet::Endpoint& listener = net.add_client(lid, kInvitedListener, true);
  flood(net, lid.id(), rv::kMaxRelaysPerRegistration / 4);
  std::vector<std::uint64_t> cids;
  for (const auto& e : listener.events)
    if (e.kind == InviteKind::kInvite) cids.push_back(e.connection_id);
  REQUIRE(cids.size() == rv::kMaxRelaysPerRegistration);
  for (std::uint64_t cid : cids) {
    listener.client->accept(cid, net.now());
    net.run_for(60ms);  // within the listener's rate limit
  }
  TestNet::Endpoint& late = net.add_client(rv::test::make_identity(2), kAllowedConnector, false);
  late.client->connect(777, lid.id(), net.now());
  net.settle();
  REQUIRE(late.count(InviteKind::kConnectFailed) == 1);
  CHECK(late.last(InviteKind::kConnectFailed).reason == "rendezvous limit reached");
  CHECK(net.server->stats().relays == rv::kMaxRelaysPerRegistration);
}
