#include "transport/stream_map.hpp"

#include <doctest/doctest.h>

#include <vector>

namespace punch::transport {
namespace {

// Opens peer streams through frames naming `id`; returns what was opened.
std::vector<StreamId> peer_frame(StreamMap& m, StreamId id, bool* ok = nullptr) {
  std::vector<StreamId> opened;
  auto r = m.for_peer_frame(id, [&](StreamId s) { opened.push_back(s); });
  if (ok != nullptr) *ok = r.ok();
  return opened;
}

}  // namespace

TEST_CASE("stream map: IDs have the role's parity, bidirectional only") {
  StreamMap client(Role::kClient);
  StreamMap server(Role::kServer);
  CHECK(client.open_local() == 0);
  CHECK(client.open_local() == 4);
  CHECK(server.open_local() == 1);
  CHECK(server.open_local() == 5);
  CHECK(client.is_local(8));
  CHECK_FALSE(client.is_local(1));
  CHECK(server.is_local(1));
  CHECK(client.was_opened(4));
  CHECK_FALSE(client.was_opened(8));
  CHECK_FALSE(client.was_opened(2));  // Unidirectional IDs never exist.
  CHECK(client.size() == 2);
}

TEST_CASE("stream map: a peer frame opens its stream and every lower one, once") {
  StreamMap m(Role::kClient);
  CHECK(peer_frame(m, 9) == std::vector<StreamId>{1, 5, 9});
  CHECK(peer_frame(m, 5).empty());
  REQUIRE(m.find(5) != nullptr);
  CHECK(m.size() == 3);
}

TEST_CASE("stream map: frames for streams the peer may not name are errors") {
  StreamMap m(Role::kClient);
  bool ok = true;
  peer_frame(m, 3, &ok);  // Unidirectional.
  CHECK_FALSE(ok);
  peer_frame(m, 0, &ok);  // Ours, never opened.
  CHECK_FALSE(ok);
  peer_frame(m, (kInitialStreamCredit << 2) | 1, &ok);  // Beyond the limit.
  CHECK_FALSE(ok);
  peer_frame(m, ((kInitialStreamCredit - 1) << 2) | 1, &ok);  // The last allowed.
  CHECK(ok);
  CHECK(m.size() == kInitialStreamCredit);
}

TEST_CASE("stream map: forgetting peer streams raises their limit through MAX_STREAMS") {
  StreamMap m(Role::kServer);
  // Fewer open than the growth threshold, so only retirement moves the limit.
  const std::uint64_t open = kInitialStreamCredit / 2;
  peer_frame(m, (open - 1) << 2);
  CHECK_FALSE(m.max_streams_pending());
  for (std::uint64_t i = 0; i < kInitialStreamCredit / 8; ++i) m.forget(i << 2);
  CHECK(m.max_streams_pending());
  CHECK(m.take_max_streams() == kInitialStreamCredit + kInitialStreamCredit / 8);
  CHECK_FALSE(m.max_streams_pending());
  CHECK(m.find(0) == nullptr);
  CHECK(m.read_finished(0));  // Forgotten means finished both ways.
  CHECK(m.write_finished(0));
  m.on_max_streams_lost();
  CHECK(m.take_max_streams() == kInitialStreamCredit + kInitialStreamCredit / 8);
  bool ok = false;
  peer_frame(m, kInitialStreamCredit << 2, &ok);  // beyond the first 1,024: allowed now
  CHECK(ok);
}

TEST_CASE("stream map: while the peer has room, MAX_STREAMS waits for an eighth") {
  StreamMap m(Role::kServer);
  const std::uint64_t step = kInitialStreamCredit / 8;
  peer_frame(m, (step - 1) << 2);  // `step` streams open, plenty left.
  for (std::uint64_t i = 0; i + 1 < step; ++i) m.forget(i << 2);
  CHECK_FALSE(m.max_streams_pending());
  m.forget((step - 1) << 2);
  CHECK(m.max_streams_pending());
}

TEST_CASE("stream map: the peer's credit doubles with its open streams, up to kMaxStreamCredit") {
  // Streams that stay open (idle forwards) used to hold the peer at 1,024 for good.
  StreamMap m(Role::kServer);
  const std::uint64_t threshold =
      kInitialStreamCredit * kStreamCreditGrowNumerator / kStreamCreditGrowDenominator;
  peer_frame(m, (threshold - 2) << 2);  // One short of three quarters open.
  CHECK(m.peer_stream_credit() == kInitialStreamCredit);
  CHECK_FALSE(m.max_streams_pending());
  peer_frame(m, (threshold - 1) << 2);
  CHECK(m.peer_stream_credit() == 2 * kInitialStreamCredit);
  REQUIRE(m.max_streams_pending());
  CHECK(m.take_max_streams() == 2 * kInitialStreamCredit);
  // The peer keeps opening while all stay open: the credit stops at the ceiling.
  std::uint64_t limit = m.take_max_streams();
  for (int round = 0; round < 8; ++round) {
    bool ok = false;
    peer_frame(m, (limit - 1) << 2, &ok);
    REQUIRE(ok);
    limit = m.take_max_streams();
  }
  CHECK(m.peer_stream_credit() == kMaxStreamCredit);
  CHECK(limit == kMaxStreamCredit);
  CHECK(m.size() == kMaxStreamCredit);
  bool ok = true;
  peer_frame(m, kMaxStreamCredit << 2, &ok);
  CHECK_FALSE(ok);  // One beyond the ceiling is a violation, as before.
  // Retiring one stream frees exactly one: the ceiling counts open streams.
  m.forget(0);
  CHECK(m.take_max_streams() == kMaxStreamCredit + 1);
}

TEST_CASE("stream map: the peer's MAX_STREAMS allows local streams beyond the old limit") {
  StreamMap m(Role::kClient);
  for (std::uint64_t i = 0; i < kInitialStreamCredit + 2; ++i) m.open_local();
  const StreamId last = (kInitialStreamCredit + 1) << 2;
  CHECK_FALSE(m.allowed(last));
  CHECK(m.allowed(0));
  std::vector<StreamId> allowed;
  CHECK_FALSE(m.can_open_local());
  m.on_max_streams(kInitialStreamCredit + 1, [&](Stream& s) { allowed.push_back(s.id); });
  CHECK(allowed == std::vector<StreamId>{kInitialStreamCredit << 2});
  m.on_max_streams(kInitialStreamCredit, [&](Stream& s) { allowed.push_back(s.id); });
  CHECK(allowed.size() == 1);  // Lower limits are ignored.
  CHECK_FALSE(m.allowed(last));
}

}  // namespace punch::transport
