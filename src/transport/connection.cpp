#include "transport/connection.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "transport/ack_ranges.hpp"
#include "transport/bbr.hpp"
#include "transport/constants.hpp"
#include "transport/frame.hpp"
#include "transport/new_reno.hpp"
#include "transport/pacer.hpp"
#include "transport/recv_stream.hpp"
#include "transport/rtt_estimator.hpp"
#include "transport/send_stream.hpp"
#include "transport/sent_packet_tracker.hpp"

namespace punch::transport {
namespace {

// Reason phrases come from the peer and end up in logs: keep them short and printable.
std::string printable(std::string_view s) {
  std::string out(s.substr(0, kMaxReasonLength));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

// Both directions of one stream plus the connection's bookkeeping flags for it.
struct Stream {
  explicit Stream(StreamId stream_id)
      : id(stream_id), send(kStreamReceiveWindow, kStreamSendBuffer), recv(kStreamReceiveWindow) {}
  StreamId id;
  SendStream send;
  RecvStream recv;
  bool queued = false;                 // In send_queue.
  bool control_queued = false;         // In control_queue.
  bool window_update_pending = false;  // A MAX_STREAM_DATA is due.
  bool readable_notified = false;      // kReadable raised and not yet followed by read().
  bool write_blocked = false;          // A write() came up short: kWritable is owed.
  bool reset_notified = false;         // kStreamReset raised.
  bool local_reset = false;            // The app called reset().
};

}  // namespace

struct Connection::State final : LossListener {
  State(Role r, util::TimePoint now, CongestionAlgorithm algorithm)
      : role(r), cc(make_controller(algorithm)), last_received(now), last_sent(now) {}

  static std::unique_ptr<CongestionController> make_controller(CongestionAlgorithm algorithm) {
    if (algorithm == CongestionAlgorithm::kNewReno) return std::make_unique<NewReno>();
    return std::make_unique<Bbr>();
  }

  // --- Identity and the machinery of RFC 9002 ---
  Role role;
  RttEstimator rtt;
  std::unique_ptr<CongestionController> cc;
  Pacer pacer;
  SentPacketTracker tracker{rtt, *cc};
  AckRanges received;

  // --- Acknowledgements we owe ---
  bool ack_pending = false;  // Ack-eliciting packets arrived since our last ACK.
  bool ack_now = false;      // ... and the ACK must not wait for the delay timer.
  std::uint64_t eliciting_since_ack = 0;
  util::TimePoint ack_deadline = util::kNever;
  std::uint64_t ack_only_in_row = 0;
  AckFrame ack_scratch;

  // --- Streams ---
  std::unordered_map<StreamId, Stream> streams;
  std::uint64_t next_local_index = 0;
  std::uint64_t next_peer_index = 0;
  std::uint64_t peer_max_streams = kMaxConcurrentStreams;   // Limit on our streams.
  std::uint64_t local_max_streams = kMaxConcurrentStreams;  // Limit on the peer's streams.
  std::uint64_t local_max_streams_sent = kMaxConcurrentStreams;
  std::uint64_t peer_streams_retired = 0;
  bool max_streams_pending = false;
  std::deque<StreamId> send_queue;     // Round robin of streams with frames due.
  std::deque<StreamId> control_queue;  // Streams with RESET/STOP/MAX_STREAM_DATA due.

  // --- Connection flow control ---
  std::uint64_t peer_max_data = kConnectionReceiveWindow;
  std::uint64_t sent_data = 0;  // New stream bytes sent, counted against peer_max_data.
  std::uint64_t recv_highest = 0;
  std::uint64_t recv_consumed = 0;
  std::uint64_t recv_max_data = kConnectionReceiveWindow;
  bool max_data_pending = false;
  std::size_t recv_fragments = 0;   // Sum of RecvStream::fragments() over live streams.
  std::uint64_t send_buffered = 0;  // Sum of SendStream::buffered() over live streams.

  // --- Timers ---
  util::TimePoint last_received;
  util::TimePoint last_sent;
  bool ping_pending = false;
  unsigned probes_pending = 0;
  unsigned receipt_probe_pto = 0;  // PTO count at which a received packet last forced a probe.
  std::size_t last_max_payload = kMaxDatagramSize;
  util::TimePoint clock{};  // `now` of the current call, for the LossListener callbacks.

  // --- Path MTU discovery (RFC 8899, simplified; sizes are UDP payload bytes) ---
  std::size_t overhead = 0;                       // What the session adds to a payload.
  std::size_t datagram_size = kBaseDatagramSize;  // Validated: packets may be this big.
  std::size_t failed_size = SIZE_MAX;             // Smallest size given up on, until failed_until.
  util::TimePoint failed_until = util::kNever;
  unsigned probe_failures = 0;  // Lost probes of the size being searched.
  bool probe_in_flight = false;
  std::uint64_t probe_pn = 0;       // Packet number of the probe in flight.
  std::uint64_t path_first_pn = 0;  // Probes sent before this went over an older path.
  util::TimePoint probe_holdoff{};  // No probe before this (after a black hole).
  util::TimePoint last_loss{};      // Latest loss of a packet other than a probe.

  // --- Closing ---
  bool closed = false;
  bool close_pending = false;
  bool repeat_close = false;  // We sent CONNECTION_CLOSE, so repeat it for stray packets.
  unsigned close_sends = 0;
  ConnectionCloseFrame close_frame;
  util::TimePoint close_time{};
  std::string close_reason;

  std::deque<Event> events;
  Stats stats;

  // ---------------------------------------------------------------- helpers

  bool is_local(StreamId id) const { return (id & 1) == (role == Role::kServer ? 1u : 0u); }
  StreamId make_id(std::uint64_t index, bool local) const {
    const bool server_initiated = (role == Role::kServer) == local;
    return (index << 2) | (server_initiated ? 1u : 0u);
  }
  bool was_opened(StreamId id) const {
    if ((id & 2) != 0) return false;
    return (id >> 2) < (is_local(id) ? next_local_index : next_peer_index);
  }
  Stream* find(StreamId id) {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : &it->second;
  }
  const Stream* find(StreamId id) const {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : &it->second;
  }
  std::uint64_t send_credit() const { return peer_max_data - sent_data; }
  std::uint64_t recv_credit() const { return recv_max_data - recv_highest; }
  bool stream_allowed(StreamId id) const { return !is_local(id) || (id >> 2) < peer_max_streams; }
  bool sendable(const Stream& s) const {
    return stream_allowed(s.id) && s.send.has_pending(send_credit());
  }

  void push_event(Event::Kind kind, StreamId id) { events.push_back(Event{kind, id}); }

  void schedule(Stream& s, bool front = false) {
    if (s.queued || !sendable(s)) return;
    s.queued = true;
    if (front) {
      send_queue.push_front(s.id);
    } else {
      send_queue.push_back(s.id);
    }
  }

  void schedule_control(Stream& s) {
    if (s.control_queued) return;
    s.control_queued = true;
    control_queue.push_back(s.id);
  }

  // Folds a stream's receive-side changes into connection flow control and queues credit.
  // A stream's receive-side counters before a change, for account().
  struct RecvSnapshot {
    std::uint64_t highest;
    std::uint64_t consumed;
    std::size_t fragments;
  };
  static RecvSnapshot snapshot(const Stream& s) {
    return {s.recv.highest(), s.recv.consumed(), s.recv.fragments()};
  }

  void account(Stream& s, const RecvSnapshot& before) {
    recv_highest += s.recv.highest() - before.highest;
    recv_consumed += s.recv.consumed() - before.consumed;
    recv_fragments = recv_fragments + s.recv.fragments() - before.fragments;
    if (s.recv.wants_window_update() && !s.window_update_pending) {
      s.window_update_pending = true;
      schedule_control(s);
    }
    if (recv_consumed + kConnectionReceiveWindow - recv_max_data >=
        kConnectionReceiveWindow / kWindowUpdateDivisor) {
      max_data_pending = true;
    }
  }

  // What write() may add to `s` now: its own buffer's free space, limited beyond its
  // reserve by what the whole connection still has room for.
  std::uint64_t write_room(const Stream& s) const {
    const std::uint64_t own = s.send.free_space();
    const std::uint64_t held = s.send.buffered();
    const std::uint64_t reserve = held < kStreamSendReserve ? kStreamSendReserve - held : 0;
    const std::uint64_t shared =
        send_buffered < kConnectionSendBuffer ? kConnectionSendBuffer - send_buffered : 0;
    return std::min(own, std::max(reserve, shared));
  }

  // Forgets a stream once neither direction can change any more; `s` dies here.
  void maybe_retire(Stream& s) {
    if (!s.send.terminal() || !s.recv.terminal()) return;
    recv_fragments -= s.recv.fragments();
    send_buffered -= s.send.buffered();
    if (!is_local(s.id)) {
      ++peer_streams_retired;
      local_max_streams = peer_streams_retired + kMaxConcurrentStreams;
      maybe_raise_stream_credit();
    }
    streams.erase(s.id);
  }

  // Announces a higher stream limit once it grew by an eighth, or sooner when the peer is
  // about to run out: without STREAMS_BLOCKED we cannot know it waits for the last few.
  void maybe_raise_stream_credit() {
    const std::uint64_t step = std::max<std::uint64_t>(1, kMaxConcurrentStreams / 8);
    const std::uint64_t grown = local_max_streams - local_max_streams_sent;
    const std::uint64_t left = local_max_streams_sent - next_peer_index;
    if (grown > 0 && (grown >= step || left < step)) max_streams_pending = true;
  }

  Stream& create_stream(StreamId id) { return streams.try_emplace(id, id).first->second; }

  // The stream a peer frame names, opening peer streams on first mention; nullptr for a
  // stream already forgotten (stale frames for it are ignored); an error for IDs the peer
  // may not use.
  util::Result<Stream*> stream_for_frame(StreamId id) {
    if ((id & 2) != 0) {
      return util::Error{"frame for unidirectional stream " + std::to_string(id)};
    }
    const std::uint64_t index = id >> 2;
    if (is_local(id)) {
      if (index >= next_local_index) {
        return util::Error{"frame for stream " + std::to_string(id) + " which was never opened"};
      }
      return find(id);
    }
    if (index < next_peer_index) return find(id);
    if (index >= local_max_streams) {
      return util::Error{"stream " + std::to_string(id) + " exceeds the stream limit"};
    }
    // Opening a stream implicitly opens every lower-numbered one (RFC 9000 3.2).
    while (next_peer_index <= index) {
      const StreamId opened = make_id(next_peer_index++, false);
      create_stream(opened);
      push_event(Event::Kind::kStreamOpened, opened);
    }
    maybe_raise_stream_credit();
    return find(id);
  }

  void close_with(std::string reason, const ConnectionCloseFrame* frame, util::TimePoint now) {
    if (closed) return;
    closed = true;
    close_reason = std::move(reason);
    if (frame != nullptr) {
      close_frame = *frame;
      close_pending = true;
      repeat_close = true;
      close_time = now;
    }
    push_event(Event::Kind::kClosed, 0);
  }

  void violation(const std::string& detail, util::TimePoint now) {
    ConnectionCloseFrame f;
    f.error_code = kProtocolViolation;
    f.reason = "protocol violation: " + detail;
    close_with(f.reason, &f, now);
  }

  // ---------------------------------------------------------------- receiving

  void handle(const Frame& frame, util::TimePoint now) {
    if (const auto* f = std::get_if<StreamFrame>(&frame)) return on_stream(*f, now);
    if (const auto* f = std::get_if<AckFrame>(&frame)) return on_ack(*f, now);
    if (const auto* f = std::get_if<MaxStreamDataFrame>(&frame)) return on_max_stream_data(*f, now);
    if (const auto* f = std::get_if<MaxDataFrame>(&frame)) return on_max_data(*f);
    if (const auto* f = std::get_if<ResetStreamFrame>(&frame)) return on_reset_stream(*f, now);
    if (const auto* f = std::get_if<StopSendingFrame>(&frame)) return on_stop_sending(*f, now);
    if (const auto* f = std::get_if<MaxStreamsFrame>(&frame)) return on_max_streams(*f);
    if (const auto* f = std::get_if<ConnectionCloseFrame>(&frame)) {
      std::string reason = printable(f->reason);
      if (reason.empty()) reason = "closed with error " + std::to_string(f->error_code);
      return close_with("peer: " + reason, nullptr, now);
    }
    // PING and PADDING only matter for acknowledgement, handled by the caller.
  }

  void on_stream(const StreamFrame& f, util::TimePoint now) {
    auto found = stream_for_frame(f.stream);
    if (!found) return violation(found.error().message, now);
    Stream* s = *found;
    if (s == nullptr) return;
    const RecvSnapshot before = snapshot(*s);
    auto progress = s->recv.on_data(f.offset, f.data, f.fin, recv_credit());
    if (!progress) return violation(progress.error().message, now);
    account(*s, before);
    if (recv_fragments > kMaxReceiveFragments) {
      return violation("stream data too fragmented", now);
    }
    if (*progress && s->recv.readable() && !s->readable_notified) {
      s->readable_notified = true;
      push_event(Event::Kind::kReadable, s->id);
    }
    maybe_retire(*s);
  }

  void on_ack(const AckFrame& f, util::TimePoint now) {
    // Cap before shifting: a hostile delay must not overflow; kMaxAckDelay caps it anyway.
    const std::uint64_t raw = std::min<std::uint64_t>(f.ack_delay, std::uint64_t{1} << 40);
    const util::Duration delay = std::chrono::microseconds(raw << kAckDelayExponent);
    auto st = tracker.on_ack_received(f, delay, now, *this);
    if (!st) violation(st.error().message, now);
  }

  void on_max_data(const MaxDataFrame& f) {
    if (f.maximum <= peer_max_data) return;
    peer_max_data = f.maximum;
    for (auto& [id, s] : streams) {
      if (s.send.wants_connection_credit()) schedule(s);
    }
  }

  void on_max_stream_data(const MaxStreamDataFrame& f, util::TimePoint now) {
    auto found = stream_for_frame(f.stream);
    if (!found) return violation(found.error().message, now);
    Stream* s = *found;
    if (s != nullptr && s->send.raise_limit(f.maximum)) schedule(*s);
  }

  void on_max_streams(const MaxStreamsFrame& f) {
    if (!f.bidirectional || f.maximum <= peer_max_streams) return;
    const std::uint64_t old = peer_max_streams;
    peer_max_streams = f.maximum;
    for (std::uint64_t i = old; i < std::min(peer_max_streams, next_local_index); ++i) {
      if (Stream* s = find(make_id(i, true))) schedule(*s);
    }
  }

  void on_reset_stream(const ResetStreamFrame& f, util::TimePoint now) {
    auto found = stream_for_frame(f.stream);
    if (!found) return violation(found.error().message, now);
    Stream* s = *found;
    if (s == nullptr) return;
    const bool was_reset = s->recv.is_reset();
    const RecvSnapshot before = snapshot(*s);
    auto st = s->recv.on_reset(f.final_size, recv_credit());
    if (!st) return violation(st.error().message, now);
    account(*s, before);
    if (!was_reset) notify_reset(*s);
    maybe_retire(*s);
  }

  void on_stop_sending(const StopSendingFrame& f, util::TimePoint now) {
    auto found = stream_for_frame(f.stream);
    if (!found) return violation(found.error().message, now);
    Stream* s = *found;
    if (s == nullptr) return;
    // The peer will not read: abandon our direction as RFC 9000 3.5 asks.
    const std::uint64_t held = s->send.buffered();
    if (s->send.reset(f.error_code)) {
      send_buffered -= held;
      schedule_control(*s);
      notify_reset(*s);
    }
    maybe_retire(*s);
  }

  void notify_reset(Stream& s) {
    if (s.local_reset || s.reset_notified) return;
    s.reset_notified = true;
    push_event(Event::Kind::kStreamReset, s.id);
  }

  // ---------------------------------------------------------------- LossListener

  void on_packet_acked(const SentPacket& p) override {
    if (p.mtu_probe) on_probe_acked(p);
    // The peer has seen our ACK up to this point: no need to keep repeating those ranges.
    if (p.largest_acked) received.forget_below(*p.largest_acked + 1);
    for (const SentFrame& f : p.frames) {
      if (f.kind == SentFrameKind::kStream) {
        Stream* s = find(f.stream);
        if (s == nullptr) continue;
        const std::uint64_t held = s->send.buffered();
        stats.stream_bytes_acked += s->send.on_acked(f.offset, f.length, f.fin);
        send_buffered -= held - s->send.buffered();
        // Under a full connection budget a stream's room tops out at its reserve,
        // so it is woken once half of that is free rather than never.
        const std::uint64_t room = write_room(*s);
        const bool budget_full = send_buffered + kWritableThreshold > kConnectionSendBuffer;
        if (s->write_blocked &&
            (room >= kWritableThreshold || (budget_full && room >= kStreamSendReserve / 2))) {
          s->write_blocked = false;
          push_event(Event::Kind::kWritable, s->id);
        }
        maybe_retire(*s);
      } else if (f.kind == SentFrameKind::kResetStream) {
        Stream* s = find(f.stream);
        if (s == nullptr) continue;
        s->send.on_reset_acked();
        maybe_retire(*s);
      }
    }
  }

  void on_packet_lost(const SentPacket& p) override {
    if (p.mtu_probe) return on_probe_lost(p);
    last_loss = clock;
    requeue(p);
  }

  // ---------------------------------------------------------------- path MTU

  std::size_t payload_for(std::size_t datagram) const {
    return datagram > overhead ? datagram - overhead : 0;
  }

  // Payload a packet may fill now: the validated size, within what the caller can protect.
  std::size_t packet_payload(std::size_t max_payload) const {
    return std::min(max_payload, payload_for(datagram_size));
  }

  void set_datagram_size(std::size_t size) {
    datagram_size = size;
    cc->set_max_datagram(size);
  }

  // The size to probe next, or 0 when none: the next one of the table, unless it failed
  // lately or exceeds what the caller can protect.
  std::size_t next_probe_size(std::size_t max_payload) const {
    for (const std::size_t size : kProbeDatagramSizes) {
      if (size <= datagram_size) continue;
      if (size >= failed_size || payload_for(size) > max_payload) return 0;
      return size;
    }
    return 0;
  }

  // A probe is due once the path has an RTT sample, is not in PTO recovery and lost
  // nothing lately, so that a lost probe most likely means a size the path refuses.
  std::size_t probe_due(util::TimePoint now, std::size_t max_payload) {
    if (probe_in_flight || probes_pending > 0 || tracker.pto_count() > 0) return 0;
    if (!rtt.has_sample() || now < probe_holdoff) return 0;
    if (now < last_loss + rtt.smoothed() * kProbeQuietRtts) return 0;
    if (now >= failed_until) {
      // The raise timer: the path may have grown since the search stopped.
      failed_size = SIZE_MAX;
      failed_until = util::kNever;
    }
    return next_probe_size(max_payload);
  }

  void on_probe_acked(const SentPacket& p) {
    if (p.packet_number == probe_pn) probe_in_flight = false;
    if (p.packet_number < path_first_pn) return;
    const std::size_t size = p.bytes + overhead;
    if (size <= datagram_size) return;
    set_datagram_size(size);
    probe_failures = 0;
  }

  void on_probe_lost(const SentPacket& p) {
    if (p.packet_number == probe_pn) probe_in_flight = false;
    if (p.packet_number < path_first_pn) return;
    const std::size_t size = p.bytes + overhead;
    if (size <= datagram_size || size >= failed_size) return;
    if (++probe_failures < kMaxProbeAttempts) return;
    // The path refuses this size: stay at the last good one until the raise timer.
    probe_failures = 0;
    failed_size = size;
    failed_until = clock + kProbeRaiseInterval;
  }

  // PING and PADDING up to the probe size: nothing to resend if it is lost.
  OutPacket build_probe(util::TimePoint now, std::size_t size) {
    OutPacket out;
    out.payload.reserve(payload_for(size));
    util::ByteWriter w(out.payload);
    encode(w, PingFrame{});
    encode(w, PaddingFrame{payload_for(size) - out.payload.size()});
    out.packet_number = tracker.next_packet_number();
    SentPacket sp;
    sp.packet_number = out.packet_number;
    sp.time_sent = now;
    sp.bytes = static_cast<std::uint32_t>(out.payload.size());
    sp.ack_eliciting = true;
    sp.mtu_probe = true;
    pacer.on_sent(now, sp.bytes);
    tracker.on_packet_sent(std::move(sp));
    probe_in_flight = true;
    probe_pn = out.packet_number;
    last_sent = now;
    ++stats.packets_sent;
    ++stats.mtu_probes_sent;
    stats.bytes_sent += out.payload.size();
    return out;
  }

  // Black hole detection (RFC 8899 4.3): PTOs in a row with big packets may mean the path
  // stopped carrying them; fall back to the base size so that the PTO probes get through.
  void check_black_hole(util::TimePoint now) {
    if (tracker.pto_count() < kBlackHolePtos || datagram_size <= kBaseDatagramSize) return;
    set_datagram_size(kBaseDatagramSize);
    probe_failures = 0;
    probe_holdoff = now + kBlackHoleHoldoff;
  }

  void reset_mtu(util::TimePoint now) {
    set_datagram_size(kBaseDatagramSize);
    failed_size = SIZE_MAX;
    failed_until = util::kNever;
    probe_failures = 0;
    probe_holdoff = now;
    path_first_pn = tracker.next_packet_number();
  }

  // Puts a packet's frames back in line to be sent in new packets.
  void requeue(const SentPacket& p) {
    for (const SentFrame& f : p.frames) {
      switch (f.kind) {
        case SentFrameKind::kStream:
          if (Stream* s = find(f.stream)) {
            s->send.on_lost(f.offset, f.length, f.fin);
            schedule(*s, /*front=*/true);
          }
          break;
        case SentFrameKind::kMaxData:
          max_data_pending = true;
          break;
        case SentFrameKind::kMaxStreams:
          max_streams_pending = true;
          break;
        case SentFrameKind::kMaxStreamData:
          if (Stream* s = find(f.stream); s != nullptr && s->recv.needs_credit()) {
            s->window_update_pending = true;
            schedule_control(*s);
          }
          break;
        case SentFrameKind::kResetStream:
          if (Stream* s = find(f.stream)) {
            s->send.on_reset_lost();
            if (s->send.reset_pending()) schedule_control(*s);
          }
          break;
        case SentFrameKind::kStopSending:
          if (Stream* s = find(f.stream)) {
            s->recv.on_stop_lost();
            if (s->recv.stop_pending()) schedule_control(*s);
          }
          break;
      }
    }
  }

  // ---------------------------------------------------------------- sending

  void clear_ack_state() {
    ack_pending = false;
    ack_now = false;
    eliciting_since_ack = 0;
    ack_deadline = util::kNever;
  }

  bool has_frames_due() const {
    return !send_queue.empty() || !control_queue.empty() || max_data_pending ||
           max_streams_pending || ping_pending || probes_pending > 0;
  }

  // Writes connection-level and per-stream control frames; returns true if any.
  bool write_control(util::ByteWriter& w, std::size_t max, SentPacket& sp) {
    constexpr std::size_t kMaxControlFrame = 1 + 8 + 8 + 8;
    bool wrote = false;
    auto room = [&] { return max - w.size(); };
    if (max_data_pending && room() >= kMaxControlFrame) {
      recv_max_data = std::max(recv_max_data, recv_consumed + kConnectionReceiveWindow);
      encode(w, MaxDataFrame{recv_max_data});
      sp.frames.push_back({SentFrameKind::kMaxData, false, 0, recv_max_data, 0});
      max_data_pending = false;
      wrote = true;
    }
    if (max_streams_pending && room() >= kMaxControlFrame) {
      local_max_streams_sent = local_max_streams;
      encode(w, MaxStreamsFrame{true, local_max_streams});
      sp.frames.push_back({SentFrameKind::kMaxStreams, false, 0, local_max_streams, 0});
      max_streams_pending = false;
      wrote = true;
    }
    while (!control_queue.empty() && room() >= 3 * kMaxControlFrame) {
      const StreamId id = control_queue.front();
      control_queue.pop_front();
      Stream* s = find(id);
      if (s == nullptr) continue;
      s->control_queued = false;
      if (s->send.reset_pending()) {
        encode(w, ResetStreamFrame{id, s->send.reset_code(), s->send.final_size()});
        s->send.on_reset_sent();
        sp.frames.push_back({SentFrameKind::kResetStream, false, id, 0, 0});
        wrote = true;
      }
      if (s->recv.stop_pending()) {
        encode(w, StopSendingFrame{id, s->recv.stop_code()});
        s->recv.on_stop_sent();
        sp.frames.push_back({SentFrameKind::kStopSending, false, id, 0, 0});
        wrote = true;
      }
      if (s->window_update_pending) {
        s->window_update_pending = false;
        if (s->recv.needs_credit()) {
          const std::uint64_t limit = s->recv.take_window_update();
          encode(w, MaxStreamDataFrame{id, limit});
          sp.frames.push_back({SentFrameKind::kMaxStreamData, false, id, limit, 0});
          wrote = true;
        }
      }
    }
    return wrote;
  }

  // Fills the packet with STREAM frames, round robin over streams; returns true if any.
  bool write_streams(util::Bytes& payload, std::size_t max, SentPacket& sp) {
    // Below this a frame would carry almost only header.
    constexpr std::size_t kMinStreamRoom = 24;
    bool wrote = false;
    while (!send_queue.empty() && max - payload.size() >= kMinStreamRoom) {
      const StreamId id = send_queue.front();
      send_queue.pop_front();
      Stream* s = find(id);
      if (s == nullptr) continue;
      s->queued = false;
      if (!sendable(*s)) continue;
      const auto chunk = s->send.next_chunk(id, max - payload.size(), send_credit());
      if (!chunk) {
        s->queued = true;
        send_queue.push_front(id);
        break;
      }
      util::ByteWriter w(payload);
      encode_stream_header(w, id, chunk->offset, chunk->length, chunk->fin);
      const std::size_t at = payload.size();
      payload.resize(at + static_cast<std::size_t>(chunk->length));
      s->send.copy_out(*chunk, payload.data() + at);
      s->send.on_sent(*chunk);
      if (!chunk->retransmit) sent_data += chunk->length;
      sp.frames.push_back({SentFrameKind::kStream, chunk->fin, id, chunk->offset, chunk->length});
      wrote = true;
      schedule(*s);
    }
    return wrote;
  }

  std::optional<OutPacket> build_close(util::TimePoint now, std::size_t max_payload) {
    if (!close_pending) return std::nullopt;
    close_pending = false;
    ++close_sends;
    ConnectionCloseFrame f = close_frame;
    // Type, code, frame type and length take at most 1 + 8 + 8 + 8 bytes.
    if (max_payload < 32) return std::nullopt;
    if (f.reason.size() > max_payload - 25) f.reason.resize(max_payload - 25);
    OutPacket out;
    out.packet_number = tracker.next_packet_number();
    util::ByteWriter w(out.payload);
    encode(w, f);
    SentPacket sp;
    sp.packet_number = out.packet_number;
    sp.time_sent = now;
    sp.bytes = static_cast<std::uint32_t>(out.payload.size());
    tracker.on_packet_sent(std::move(sp));
    ++stats.packets_sent;
    stats.bytes_sent += out.payload.size();
    last_sent = now;
    return out;
  }

  std::optional<OutPacket> poll_send(util::TimePoint now, std::size_t max_payload) {
    if (closed) return build_close(now, packet_payload(max_payload));
    clock = now;
    const std::size_t mtu_probe = probe_due(now, max_payload);
    max_payload = packet_payload(max_payload);
    // A packet leaves once the bucket holds a base-size packet, whatever its size: the
    // bucket may go into debt for the rest (it always holds a full packet's worth, so the
    // debt is never forgiven), and a small packet never waits for a big one's tokens.
    pacer.set_max_packet(mtu_probe != 0 ? payload_for(mtu_probe) : max_payload);
    pacer.set_rate(cc->pacing_rate(rtt));
    last_max_payload = std::min<std::size_t>(max_payload, kMaxDatagramSize);
    const bool probing = probes_pending > 0;
    const bool cwnd_ok = probing || tracker.bytes_in_flight() < cc->window();
    const bool may_elicit = cwnd_ok && (probing || pacer.can_send(now, last_max_payload));
    if (may_elicit && mtu_probe != 0) return build_probe(now, mtu_probe);
    const bool ack_due = ack_pending && (ack_now || now >= ack_deadline);
    if (!may_elicit && !ack_due) return std::nullopt;
    if (may_elicit && !has_frames_due()) {
      // Allowed to send but nothing to say: the rate samples now measure the app, not the path.
      tracker.on_app_limited();
      if (!ack_pending) return std::nullopt;
    }

    OutPacket out;
    out.payload.reserve(max_payload);
    util::ByteWriter w(out.payload);
    SentPacket sp;
    sp.frames = tracker.take_frame_vector();
    bool has_ack = false;
    if (ack_pending && !received.build_ack(now, kMaxAckRangesPerFrame, ack_scratch)) {
      // Everything owed was forgotten (the peer confirmed an ACK covering it): owe nothing,
      // or an ACK that can never be built would keep its deadline in the past.
      clear_ack_state();
    } else if (ack_pending) {
      while (encoded_size(ack_scratch) > max_payload && ack_scratch.ranges.size() > 1) {
        ack_scratch.ranges.pop_back();
      }
      if (encoded_size(ack_scratch) <= max_payload) {
        encode(w, ack_scratch);
        sp.largest_acked = ack_scratch.ranges.front().largest;
        has_ack = true;
      }
    }
    bool eliciting = false;
    if (may_elicit) {
      eliciting = write_control(w, max_payload, sp);
      eliciting = write_streams(out.payload, max_payload, sp) || eliciting;
      const bool want_ping = ping_pending || (probing && !eliciting) ||
                             (has_ack && !eliciting && ack_only_in_row + 1 >= kAckOnlyBeforePing);
      if (want_ping && out.payload.size() < max_payload) {
        encode(w, PingFrame{});
        eliciting = true;
      }
    }
    if (out.payload.empty() || (!eliciting && !ack_due)) return std::nullopt;

    out.packet_number = tracker.next_packet_number();
    sp.packet_number = out.packet_number;
    sp.time_sent = now;
    sp.bytes = static_cast<std::uint32_t>(out.payload.size());
    sp.ack_eliciting = eliciting;
    out.answer_expected = eliciting;
    if (eliciting) {
      pacer.on_sent(now, sp.bytes);
      ping_pending = false;
      if (probing) --probes_pending;
      ack_only_in_row = 0;
    } else {
      ++ack_only_in_row;
    }
    if (has_ack) clear_ack_state();
    tracker.on_packet_sent(std::move(sp));
    last_sent = now;
    ++stats.packets_sent;
    stats.bytes_sent += out.payload.size();
    return out;
  }

  void on_packet(std::uint64_t pn, util::ByteView payload, util::TimePoint now) {
    clock = now;
    if (closed) {
      // Our CONNECTION_CLOSE may have been lost: answer stray packets with it, a few times.
      if (repeat_close && !close_pending && close_sends < kMaxCloseSends) close_pending = true;
      return;
    }
    last_received = now;
    if (received.is_duplicate(pn)) {
      ++stats.duplicate_packets;
      return;
    }
    if (payload.empty()) return violation("packet without frames", now);
    const std::optional<std::uint64_t> largest_before = received.largest();
    util::ByteReader r(payload);
    bool eliciting = false;
    while (r.remaining() > 0) {
      auto frame = decode_frame(r);
      if (!frame) return violation(frame.error().message, now);
      eliciting = eliciting || is_ack_eliciting(*frame);
      handle(*frame, now);
      if (closed) return;
    }
    received.add(pn, now);
    ++stats.packets_received;
    // We are probing an outage and the peer got through: the path works again, so probe at
    // once instead of waiting out the backed-off PTO (once per PTO, so it cannot snowball).
    if (tracker.pto_count() == 0) receipt_probe_pto = 0;
    if (tracker.pto_count() > 0 && receipt_probe_pto != tracker.pto_count() &&
        tracker.bytes_in_flight() > 0) {
      receipt_probe_pto = tracker.pto_count();
      probes_pending = std::max(probes_pending, 1u);
      tracker.for_oldest_in_flight(1, [this](const SentPacket& p) { requeue(p); });
    }
    if (!eliciting) return;
    ack_pending = true;
    ++eliciting_since_ack;
    // Reordering or loss shows as a gap: tell the sender at once so it can recover.
    const bool in_order = !largest_before || pn == *largest_before + 1;
    if (eliciting_since_ack >= kPacketsBeforeAck || !in_order) {
      ack_now = true;
    } else if (ack_deadline == util::kNever) {
      ack_deadline = now + kMaxAckDelay;
    }
  }

  void on_timeout(util::TimePoint now) {
    clock = now;
    if (closed) return;
    if (now >= last_received + kIdleTimeout) {
      return close_with("idle timeout: peer stopped answering", nullptr, now);
    }
    if (tracker.on_timeout(now, *this) == SentPacketTracker::TimeoutResult::kProbe) {
      check_black_hole(now);
      probes_pending = kPtoProbes;
      // The oldest packet in flight is the likeliest lost: resend its frames in the probe.
      tracker.for_oldest_in_flight(1, [this](const SentPacket& p) { requeue(p); });
    }
    if (ack_pending && now >= ack_deadline) ack_now = true;
    if (now >= last_sent + kKeepaliveInterval) ping_pending = true;
  }

  util::TimePoint next_deadline() const {
    if (closed) return close_pending ? close_time : util::kNever;
    util::TimePoint t = std::min(last_received + kIdleTimeout, tracker.deadline());
    if (ack_pending) t = std::min(t, ack_now ? last_received : ack_deadline);
    if (!ping_pending) t = std::min(t, last_sent + kKeepaliveInterval);
    if (has_frames_due() && probes_pending == 0 && tracker.bytes_in_flight() < cc->window()) {
      t = std::min(t, pacer.next_send_time(last_max_payload));
    }
    return t;
  }
};

Connection::Connection(Role role, util::TimePoint now, CongestionAlgorithm algorithm)
    : state_(std::make_unique<State>(role, now, algorithm)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

void Connection::on_packet(std::uint64_t packet_number, util::ByteView payload,
                           util::TimePoint now) {
  state_->on_packet(packet_number, payload, now);
}

std::optional<OutPacket> Connection::poll_send(util::TimePoint now, std::size_t max_payload) {
  return state_->poll_send(now, max_payload);
}

util::TimePoint Connection::next_deadline() const { return state_->next_deadline(); }

void Connection::on_timeout(util::TimePoint now) { state_->on_timeout(now); }

std::optional<Event> Connection::poll_event() {
  if (state_->events.empty()) return std::nullopt;
  Event e = state_->events.front();
  state_->events.pop_front();
  return e;
}

StreamId Connection::open_stream() {
  State& s = *state_;
  const StreamId id = s.make_id(s.next_local_index++, true);
  s.create_stream(id);
  return id;
}

std::size_t Connection::write(StreamId stream, util::ByteView data) {
  State& s = *state_;
  Stream* st = s.find(stream);
  if (s.closed || st == nullptr || data.empty()) return 0;
  const std::uint64_t room = s.write_room(*st);
  const std::size_t n = st->send.write(data.first(std::min<std::uint64_t>(room, data.size())));
  s.send_buffered += n;
  if (n < data.size() && !st->send.is_reset()) st->write_blocked = true;
  if (n > 0) s.schedule(*st);
  return n;
}

void Connection::finish(StreamId stream) {
  State& s = *state_;
  Stream* st = s.find(stream);
  if (s.closed || st == nullptr) return;
  st->send.finish();
  st->write_blocked = false;
  s.schedule(*st);
}

void Connection::reset(StreamId stream, std::uint64_t error_code) {
  State& s = *state_;
  Stream* st = s.find(stream);
  if (s.closed || st == nullptr) return;
  st->local_reset = true;
  st->write_blocked = false;
  const std::uint64_t held = st->send.buffered();
  if (st->send.reset(error_code)) {
    s.send_buffered -= held;
    s.schedule_control(*st);
  }
  const State::RecvSnapshot before = State::snapshot(*st);
  st->recv.stop(error_code);
  s.account(*st, before);
  if (st->recv.stop_pending()) s.schedule_control(*st);
  s.maybe_retire(*st);
}

std::size_t Connection::read(StreamId stream, std::span<std::uint8_t> out) {
  State& s = *state_;
  Stream* st = s.find(stream);
  if (st == nullptr) return 0;
  st->readable_notified = false;
  const State::RecvSnapshot before = State::snapshot(*st);
  const std::size_t n = st->recv.read(out);
  if (n == 0) {
    if (st->recv.finished()) s.maybe_retire(*st);
    return 0;
  }
  s.account(*st, before);
  s.maybe_retire(*st);
  return n;
}

bool Connection::read_finished(StreamId stream) const {
  const Stream* st = state_->find(stream);
  if (st == nullptr) return state_->was_opened(stream);
  return st->recv.finished();
}

bool Connection::write_finished(StreamId stream) const {
  const Stream* st = state_->find(stream);
  if (st == nullptr) return state_->was_opened(stream);
  return st->send.all_acked();
}

void Connection::close(const std::string& reason, util::TimePoint now) {
  ConnectionCloseFrame f;
  f.application = true;
  f.error_code = kAppCloseErrorCode;
  f.reason = reason.substr(0, kMaxReasonLength);
  state_->close_with(reason, &f, now);
}

bool Connection::closed() const { return state_->closed; }

const std::string& Connection::close_reason() const { return state_->close_reason; }

void Connection::ping() { state_->ping_pending = true; }

Stats Connection::stats() const {
  const State& s = *state_;
  Stats st = s.stats;
  st.packets_lost = s.tracker.packets_lost();
  st.mtu_probes_lost = s.tracker.probes_lost();
  st.max_datagram = s.datagram_size;
  st.smoothed_rtt = s.rtt.smoothed();
  st.rtt_measured = s.rtt.has_sample();
  st.congestion_window = s.cc->window();
  st.bytes_in_flight = s.tracker.bytes_in_flight();
  st.open_streams = s.streams.size();
  for (const auto& [id, stream] : s.streams) {
    st.send_buffered += stream.send.buffered();
    st.recv_buffered += stream.recv.buffered();
    st.buffer_memory += stream.send.allocated_bytes() + stream.recv.allocated_bytes();
  }
  return st;
}

void Connection::set_datagram_overhead(std::size_t bytes) {
  state_->overhead = bytes;
  state_->set_datagram_size(state_->datagram_size);
}

void Connection::abandon_in_flight(util::TimePoint now) {
  State& s = *state_;
  s.tracker.abandon_in_flight(now, s);
}

void Connection::reset_path(util::TimePoint now) {
  State& s = *state_;
  s.reset_mtu(now);
  s.rtt.reset();
  s.cc->reset();
  s.pacer.reset();
  s.tracker.reset_backoff();
  s.tracker.reset_reordering();
}

}  // namespace punch::transport
