// The streams of one connection (RFC 9000 sections 2-3): stream-ID numbering and
// parity, opening local streams and accepting the peer's (implicitly opening lower
// ones), the concurrent-stream limits both ways with MAX_STREAMS, and forgetting
// streams once both directions are done. The credit we grant grows with the peer's
// demand, from kInitialStreamCredit to kMaxStreamCredit open streams.
#pragma once

#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "transport/constants.hpp"
#include "transport/recv_stream.hpp"
#include "transport/send_stream.hpp"
#include "transport/stream_id.hpp"
#include "util/result.hpp"

namespace punch::transport {

/// Both directions of one stream plus the connection's bookkeeping flags for it.
struct Stream {
  /// A stream with fresh buffers and full credit.
  explicit Stream(StreamId stream_id)
      : id(stream_id), send(kStreamReceiveWindow, kStreamSendBuffer), recv(kStreamReceiveWindow) {}
  StreamId id;
  SendStream send;
  RecvStream recv;
  bool queued = false;                 ///< In the connection's send queue.
  bool control_queued = false;         ///< In the connection's control queue.
  bool window_update_pending = false;  ///< A MAX_STREAM_DATA is due.
  bool readable_notified = false;      ///< kReadable raised and not yet followed by read().
  bool write_blocked = false;          ///< A write() came up short: kWritable is owed.
  bool reset_notified = false;         ///< kStreamReset raised.
  bool local_reset = false;            ///< The app called reset().
};

/// The live streams of a connection and the limits on opening more.
class StreamMap {
 public:
  /// Streams of `role` get this end's parity.
  explicit StreamMap(Role role) : role_(role) {}

  /// True for streams this end initiated.
  bool is_local(StreamId id) const { return (id & 1) == (role_ == Role::kServer ? 1u : 0u); }
  /// True for an ID opened at some point (live or forgotten); false for unidirectional IDs.
  bool was_opened(StreamId id) const;
  /// The live stream `id`, or nullptr.
  Stream* find(StreamId id);
  /// The live stream `id`, or nullptr.
  const Stream* find(StreamId id) const;
  /// Every live stream, in the map's (deterministic) order.
  std::unordered_map<StreamId, Stream>& all() { return streams_; }
  /// Every live stream.
  const std::unordered_map<StreamId, Stream>& all() const { return streams_; }
  /// True once the peer's FIN arrived and all data before it was read (or `id` is forgotten).
  bool read_finished(StreamId id) const;
  /// True once our FIN and all data before it were acknowledged (or `id` is forgotten).
  bool write_finished(StreamId id) const;
  /// Number of live streams.
  std::size_t size() const { return streams_.size(); }

  /// Opens the next local stream (it may send once the peer's limit allows).
  StreamId open_local();
  /// True while a local stream is within the peer's MAX_STREAMS (peer streams always are).
  bool allowed(StreamId id) const { return !is_local(id) || (id >> 2) < peer_max_streams_; }
  /// True when a stream opened now could send at once (the peer's MAX_STREAMS has room).
  bool can_open_local() const { return next_local_index_ < peer_max_streams_; }
  /// Open streams the peer may have at once now (grows with demand, see kMaxStreamCredit).
  std::uint64_t peer_stream_credit() const { return peer_credit_; }
  /// The stream a peer frame names, opening peer streams on first mention (with every
  /// lower-numbered one, RFC 9000 3.2; `on_opened(id)` is called for each, in order);
  /// nullptr for a stream already forgotten (stale frames for it are ignored); an error
  /// for IDs the peer may not use.
  template <typename OnOpened>
  util::Result<Stream*> for_peer_frame(StreamId id, OnOpened&& on_opened) {
    auto opens = check_peer_frame(id);
    if (!opens) return opens.error();
    if (*opens) {
      while (next_peer_index_ <= (id >> 2)) on_opened(accept_next());
      maybe_grow_peer_credit();
      maybe_raise_peer_limit();
    }
    return find(id);
  }
  /// Forgets `id` (both directions done); a peer stream frees room for another.
  void forget(StreamId id);

  /// The peer's MAX_STREAMS for bidirectional streams; calls `on_allowed(id)` for each
  /// live local stream it newly allows to send.
  template <typename OnAllowed>
  void on_max_streams(std::uint64_t maximum, OnAllowed&& on_allowed) {
    if (maximum <= peer_max_streams_) return;
    const std::uint64_t old = peer_max_streams_;
    peer_max_streams_ = maximum;
    for (std::uint64_t i = old; i < std::min(peer_max_streams_, next_local_index_); ++i) {
      if (Stream* s = find(make_id(i, true))) on_allowed(*s);
    }
  }
  /// True while a MAX_STREAMS must be sent.
  bool max_streams_pending() const { return max_streams_pending_; }
  /// The limit to announce in a MAX_STREAMS frame; it is then no longer pending.
  std::uint64_t take_max_streams();
  /// A MAX_STREAMS was lost: send the current value again.
  void on_max_streams_lost() { max_streams_pending_ = true; }

 private:
  StreamId make_id(std::uint64_t index, bool local) const {
    const bool server_initiated = (role_ == Role::kServer) == local;
    return (index << 2) | (server_initiated ? 1u : 0u);
  }
  // True when a frame for `id` opens peer streams; an error for IDs the peer may not use.
  util::Result<bool> check_peer_frame(StreamId id) const;
  StreamId accept_next();
  void maybe_grow_peer_credit();
  void maybe_raise_peer_limit();

  Role role_;
  std::unordered_map<StreamId, Stream> streams_;
  std::uint64_t next_local_index_ = 0;
  std::uint64_t next_peer_index_ = 0;
  std::uint64_t peer_max_streams_ = kInitialStreamCredit;   // Limit on our streams.
  std::uint64_t local_max_streams_ = kInitialStreamCredit;  // Limit on the peer's streams.
  std::uint64_t local_max_streams_sent_ = kInitialStreamCredit;
  std::uint64_t peer_streams_retired_ = 0;
  std::uint64_t peer_credit_ = kInitialStreamCredit;  // Peer streams open at once we allow.
  bool max_streams_pending_ = false;
};

}  // namespace punch::transport
