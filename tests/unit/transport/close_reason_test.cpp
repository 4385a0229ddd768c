#include "transport/close_reason.hpp"

#include <doctest/doctest.h>

namespace punch::transport {

TEST_CASE("close reason: the message is the text, prefixed for the peer") {
  CHECK(CloseReason{}.message().empty());
  CHECK(CloseReason{CloseOrigin::kLocal, CloseKind::kApplication, 1, "bye"}.message() == "bye");
  CHECK(CloseReason{CloseOrigin::kPeer, CloseKind::kApplication, 0, "done"}.message() ==
        "peer: done");
  CHECK(CloseReason{CloseOrigin::kPeer, CloseKind::kTransport, 10, ""}.message() ==
        "peer: closed with error 10");
}

TEST_CASE("close reason: decisions use origin, kind and code, never the text") {
  const CloseReason peer_done{CloseOrigin::kPeer, CloseKind::kApplication, 0, "anything"};
  CHECK(peer_done.peer_application(0));
  CHECK_FALSE(peer_done.peer_application(1));
  CHECK_FALSE(
      (CloseReason{CloseOrigin::kLocal, CloseKind::kApplication, 0, "done"}.peer_application(0)));
  CHECK_FALSE(
      (CloseReason{CloseOrigin::kPeer, CloseKind::kTransport, 0, "done"}.peer_application(0)));
}

}  // namespace punch::transport
