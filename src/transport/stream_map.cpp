#include "transport/stream_map.hpp"

#include <string>

namespace punch::transport {

bool StreamMap::was_opened(StreamId id) const {
  if ((id & 2) != 0) return false;
  return (id >> 2) < (is_local(id) ? next_local_index_ : next_peer_index_);
}

Stream* StreamMap::find(StreamId id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

const Stream* StreamMap::find(StreamId id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

bool StreamMap::read_finished(StreamId id) const {
  const Stream* s = find(id);
  return s == nullptr ? was_opened(id) : s->recv.finished();
}

bool StreamMap::write_finished(StreamId id) const {
  const Stream* s = find(id);
  return s == nullptr ? was_opened(id) : s->send.all_acked();
}

StreamId StreamMap::open_local() {
  const StreamId id = make_id(next_local_index_++, true);
  streams_.try_emplace(id, id);
  return id;
}

util::Result<bool> StreamMap::check_peer_frame(StreamId id) const {
  if ((id & 2) != 0) {
    return util::Error{"frame for unidirectional stream " + std::to_string(id)};
  }
  const std::uint64_t index = id >> 2;
  if (is_local(id)) {
    if (index >= next_local_index_) {
      return util::Error{"frame for stream " + std::to_string(id) + " which was never opened"};
    }
    return false;
  }
  if (index < next_peer_index_) return false;
  if (index >= local_max_streams_) {
    return util::Error{"stream " + std::to_string(id) + " exceeds the stream limit"};
  }
  return true;
}

StreamId StreamMap::accept_next() {
  const StreamId id = make_id(next_peer_index_++, false);
  streams_.try_emplace(id, id);
  return id;
}

void StreamMap::forget(StreamId id) {
  if (!is_local(id)) {
    ++peer_streams_retired_;
    local_max_streams_ = peer_streams_retired_ + peer_credit_;
    maybe_raise_peer_limit();
  }
  streams_.erase(id);
}

// Doubles the credit once the peer holds three quarters of it open, up to
// kMaxStreamCredit: streams that stay open (idle forwards) must not keep new ones
// waiting, but one peer may not cost us unbounded descriptors and memory either.
void StreamMap::maybe_grow_peer_credit() {
  const std::uint64_t open = next_peer_index_ - peer_streams_retired_;
  while (peer_credit_ < kMaxStreamCredit &&
         open * kStreamCreditGrowDenominator >= peer_credit_ * kStreamCreditGrowNumerator) {
    peer_credit_ = std::min(peer_credit_ * 2, kMaxStreamCredit);
  }
  local_max_streams_ = peer_streams_retired_ + peer_credit_;
}

// Announces a higher stream limit once it grew by an eighth, or sooner when the peer is
// about to run out: without STREAMS_BLOCKED we cannot know it waits for the last few.
void StreamMap::maybe_raise_peer_limit() {
  const std::uint64_t step = std::max<std::uint64_t>(1, kInitialStreamCredit / 8);
  const std::uint64_t grown = local_max_streams_ - local_max_streams_sent_;
  const std::uint64_t left = local_max_streams_sent_ - next_peer_index_;
  if (grown > 0 && (grown >= step || left < step)) max_streams_pending_ = true;
}

std::uint64_t StreamMap::take_max_streams() {
  local_max_streams_sent_ = local_max_streams_;
  max_streams_pending_ = false;
  return local_max_streams_;
}

}  // namespace punch::transport
