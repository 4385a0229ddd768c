#include "transport/closing.hpp"

#include <doctest/doctest.h>

#include "test_time.hpp"
#include "transport/constants.hpp"

namespace punch::transport {
namespace {

using testing::kT0;

}  // namespace

TEST_CASE("closing: an application close owes one CONNECTION_CLOSE with its code") {
  Closing c;
  CHECK(c.state() == Closing::State::kOpen);
  CHECK(c.send_deadline() == util::kNever);
  REQUIRE(c.close_application(7, "bye", kT0));
  CHECK(c.state() == Closing::State::kClosing);
  CHECK(c.reason().origin == CloseOrigin::kLocal);
  CHECK(c.reason().kind == CloseKind::kApplication);
  CHECK(c.reason().code == 7);
  CHECK(c.reason().message() == "bye");
  CHECK(c.send_deadline() == kT0);
  CHECK_FALSE(c.close_application(8, "again", kT0));  // The first close wins.
  const auto f = c.take_frame(1000);
  REQUIRE(f);
  CHECK(f->application);
  CHECK(f->error_code == 7);
  CHECK(f->reason == "bye");
  CHECK_FALSE(c.take_frame(1000));
  CHECK(c.send_deadline() == util::kNever);
}

TEST_CASE("closing: stray packets get the close again, kMaxCloseSends in all") {
  Closing c;
  REQUIRE(c.close_violation("bad frame", kT0));
  CHECK(c.reason().kind == CloseKind::kTransport);
  CHECK(c.reason().code == kProtocolViolation);
  CHECK(c.reason().message() == "protocol violation: bad frame");
  unsigned sent = 0;
  for (int i = 0; i < 10; ++i) {
    if (const auto f = c.take_frame(1000)) {
      ++sent;
      CHECK_FALSE(f->application);
      CHECK(f->reason == "protocol violation: bad frame");
    }
    c.on_packet_received();
  }
  CHECK(sent == kMaxCloseSends);
}

TEST_CASE("closing: the reason is cut to fit; a packet too small for any close skips it") {
  Closing c;
  REQUIRE(c.close_application(1, std::string(600, 'r'), kT0));
  CHECK(c.reason().text.size() == 600);  // Locally the whole text stays.
  const auto f = c.take_frame(100);
  REQUIRE(f);
  CHECK(f->reason.size() == 75);
  c.on_packet_received();
  CHECK_FALSE(c.take_frame(31));
  CHECK_FALSE(c.send_pending());
}

TEST_CASE("closing: idle timeout and the peer's close send nothing") {
  Closing idle;
  REQUIRE(idle.close_idle());
  CHECK(idle.state() == Closing::State::kDraining);
  CHECK(idle.reason().kind == CloseKind::kIdle);
  CHECK(idle.reason().message() == "idle timeout: peer stopped answering");
  idle.on_packet_received();
  CHECK_FALSE(idle.take_frame(1000));

  Closing peer;
  REQUIRE(peer.on_peer_close(ConnectionCloseFrame{true, 3, 0, std::string("a\nb\x01")}));
  CHECK(peer.reason().origin == CloseOrigin::kPeer);
  CHECK(peer.reason().peer_application(3));
  CHECK(peer.reason().message() == "peer: a?b?");
  CHECK_FALSE(peer.take_frame(1000));
  CHECK_FALSE(peer.close_idle());
}

}  // namespace punch::transport
