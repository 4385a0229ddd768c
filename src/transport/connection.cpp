#include "transport/connection.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "transport/ack_manager.hpp"
#include "transport/bbr.hpp"
#include "transport/closing.hpp"
#include "transport/constants.hpp"
#include "transport/flow_control.hpp"
#include "transport/frame.hpp"
#include "transport/new_reno.hpp"
#include "transport/pacer.hpp"
#include "transport/pmtud.hpp"
#include "transport/rtt_estimator.hpp"
#include "transport/sent_packet_tracker.hpp"
#include "transport/stream_map.hpp"
#include "transport/stream_scheduler.hpp"
#include "util/timer_table.hpp"

namespace punch::transport {
namespace {

// The connection's timers; next_deadline() is the earliest armed one.
enum class Timer {
  kIdle,           // Nothing received for kIdleTimeout: close.
  kLossDetection,  // The tracker's loss time or PTO (RFC 9002 6).
  kAckDelay,       // An owed ACK must leave (at once, or when the ACK delay ends).
  kKeepalive,      // Nothing sent for kKeepaliveInterval: PING.
  kPacing,         // Frames wait only for the pacer's tokens.
  kClose,          // A CONNECTION_CLOSE waits to be sent.
  kCount,
};

}  // namespace

struct Connection::State final : LossListener {
  State(Role r, util::TimePoint now, CongestionAlgorithm algorithm)
      : cc(make_controller(algorithm)), streams(r), last_received(now), last_sent(now) {}

  static std::unique_ptr<CongestionController> make_controller(CongestionAlgorithm algorithm) {
    if (algorithm == CongestionAlgorithm::kNewReno) return std::make_unique<NewReno>();
    return std::make_unique<Bbr>();
  }

  // --- The mechanisms, one per file ---
  RttEstimator rtt;
  std::unique_ptr<CongestionController> cc;
  Pacer pacer;
  SentPacketTracker tracker{rtt, *cc};
  AckManager acks;
  StreamMap streams;
  FlowControl flow;
  PathMtuDiscovery pmtud;
  StreamScheduler scheduler{streams, flow};
  Closing closing;
  util::TimerTable<Timer> timers;

  // --- What the connection orchestrates itself ---
  util::TimePoint last_received;
  util::TimePoint last_sent;
  bool ping_pending = false;
  unsigned probes_pending = 0;     // PTO probes still to send.
  unsigned receipt_probe_pto = 0;  // PTO count at which a received packet last forced a probe.
  std::size_t last_max_payload = kMaxDatagramSize;
  util::TimePoint clock{};  // `now` of the current call, for the LossListener callbacks.
  std::deque<Event> events;
  Stats stats;

  void push_event(Event::Kind kind, StreamId id) { events.push_back(Event{kind, id}); }

  // Folds a stream's receive-side change into flow control and queues its credit.
  void account(Stream& s, const FlowControl::RecvSnapshot& before) {
    if (flow.account(s.recv, before) && !s.window_update_pending) {
      s.window_update_pending = true;
      scheduler.schedule_control(s);
    }
  }

  // Forgets a stream once neither direction can change any more; `s` dies here.
  void maybe_retire(Stream& s) {
    if (!s.send.terminal() || !s.recv.terminal()) return;
    flow.on_stream_forgotten(s.recv, s.send);
    streams.forget(s.id);
  }

  util::Result<Stream*> stream_for_frame(StreamId id) {
    return streams.for_peer_frame(
        id, [this](StreamId opened) { push_event(Event::Kind::kStreamOpened, opened); });
  }

  // Raises kClosed when `closed_now` (the call that closed the connection).
  void on_close(bool closed_now) {
    if (closed_now) push_event(Event::Kind::kClosed, 0);
  }

  void violation(const std::string& detail, util::TimePoint now) {
    on_close(closing.close_violation(detail, now));
  }

  // Derives every timer from the state; runs after each input, so that next_deadline()
  // is just the table's earliest entry.
  void arm_timers() {
    timers.clear();
    if (closing.closed()) {
      timers.set(Timer::kClose, closing.send_deadline());
      return;
    }
    timers.set(Timer::kIdle, last_received + kIdleTimeout);
    timers.set(Timer::kLossDetection, tracker.deadline());
    timers.set(Timer::kAckDelay, acks.deadline(last_received));
    if (!ping_pending) timers.set(Timer::kKeepalive, last_sent + kKeepaliveInterval);
    if (has_frames_due() && probes_pending == 0 && tracker.bytes_in_flight() < cc->window()) {
      timers.set(Timer::kPacing, pacer.next_send_time(last_max_payload));
    }
  }

  void on_timeout(util::TimePoint now) {
    clock = now;
    // A pending close or the pacer only wake the caller up to poll_send().
    timers.take_expired(Timer::kClose, now);
    timers.take_expired(Timer::kPacing, now);
    if (closing.closed()) return;
    if (timers.take_expired(Timer::kIdle, now)) {
      return on_close(closing.close_idle());
    }
    if (timers.take_expired(Timer::kLossDetection, now) &&
        tracker.on_timeout(now, *this) == SentPacketTracker::TimeoutResult::kProbe) {
      if (pmtud.on_pto(tracker.pto_count(), now)) cc->set_max_datagram(pmtud.datagram_size());
      probes_pending = kPtoProbes;
      // The oldest packet in flight is the likeliest lost: resend its frames in the probe.
      tracker.for_oldest_in_flight(1, [this](const SentPacket& p) { requeue(p); });
    }
    if (timers.take_expired(Timer::kAckDelay, now)) acks.on_timeout(now);
    if (timers.take_expired(Timer::kKeepalive, now)) ping_pending = true;
  }

  void handle(const Frame& frame, util::TimePoint now) {
    if (const auto* f = std::get_if<StreamFrame>(&frame)) return on_stream(*f, now);
    if (const auto* f = std::get_if<AckFrame>(&frame)) return on_ack(*f, now);
    if (const auto* f = std::get_if<MaxStreamDataFrame>(&frame)) return on_max_stream_data(*f, now);
    if (const auto* f = std::get_if<MaxDataFrame>(&frame)) return on_max_data(*f);
    if (const auto* f = std::get_if<ResetStreamFrame>(&frame)) return on_reset_stream(*f, now);
    if (const auto* f = std::get_if<StopSendingFrame>(&frame)) return on_stop_sending(*f, now);
    if (const auto* f = std::get_if<MaxStreamsFrame>(&frame)) {
      if (!f->bidirectional) return;
      return streams.on_max_streams(f->maximum, [this](Stream& s) { scheduler.schedule(s); });
    }
    if (const auto* f = std::get_if<ConnectionCloseFrame>(&frame)) {
      return on_close(closing.on_peer_close(*f));
    }
    // PING and PADDING only matter for acknowledgement, handled by the caller.
  }

  void on_stream(const StreamFrame& f, util::TimePoint now) {
    auto found = stream_for_frame(f.stream);
    if (!found) return violation(found.error().message, now);
    Stream* s = *found;
    if (s == nullptr) return;
    const auto before = FlowControl::snapshot(s->recv);
    auto progress = s->recv.on_data(f.offset, f.data, f.fin, flow.recv_credit());
    if (!progress) return violation(progress.error().message, now);
    account(*s, before);
    if (flow.too_fragmented()) return violation("stream data too fragmented", now);
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
    if (flow.on_max_data(f.maximum)) scheduler.on_connection_credit();
  }

  void on_max_stream_data(const MaxStreamDataFrame& f, util::TimePoint now) {
    auto found = stream_for_frame(f.stream);
    if (!found) return violation(found.error().message, now);
    Stream* s = *found;
    if (s != nullptr && s->send.raise_limit(f.maximum)) scheduler.schedule(*s);
  }

  void on_reset_stream(const ResetStreamFrame& f, util::TimePoint now) {
    auto found = stream_for_frame(f.stream);
    if (!found) return violation(found.error().message, now);
    Stream* s = *found;
    if (s == nullptr) return;
    const bool was_reset = s->recv.is_reset();
    const auto before = FlowControl::snapshot(s->recv);
    auto st = s->recv.on_reset(f.final_size, flow.recv_credit());
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
      flow.on_released(held);
      scheduler.schedule_control(*s);
      notify_reset(*s);
    }
    maybe_retire(*s);
  }

  void notify_reset(Stream& s) {
    if (s.local_reset || s.reset_notified) return;
    s.reset_notified = true;
    push_event(Event::Kind::kStreamReset, s.id);
  }

  void on_packet(std::uint64_t pn, util::ByteView payload, util::TimePoint now) {
    clock = now;
    if (closing.closed()) {
      // Our CONNECTION_CLOSE may have been lost: answer stray packets with it, a few times.
      closing.on_packet_received();
      return;
    }
    // A duplicate (maybe a replay) touches no timer: only a new packet shows the peer lives.
    if (acks.is_duplicate(pn)) {
      ++stats.duplicate_packets;
      return;
    }
    last_received = now;
    if (payload.empty()) return violation("packet without frames", now);
    const std::optional<std::uint64_t> largest_before = acks.largest();
    util::ByteReader r(payload);
    bool eliciting = false;
    while (r.remaining() > 0) {
      auto frame = decode_frame(r);
      if (!frame) return violation(frame.error().message, now);
      eliciting = eliciting || is_ack_eliciting(*frame);
      handle(*frame, now);
      if (closing.closed()) return;
    }
    acks.on_received(pn, now, eliciting, largest_before);
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
  }

  void on_packet_acked(const SentPacket& p) override {
    if (p.mtu_probe && pmtud.on_probe_acked(p.packet_number, p.bytes)) {
      cc->set_max_datagram(pmtud.datagram_size());
    }
    // The peer has seen our ACK up to this point: no need to keep repeating those ranges.
    if (p.largest_acked) acks.on_ack_acked(*p.largest_acked);
    for (const SentFrame& f : p.frames) {
      if (f.kind == SentFrameKind::kStream) {
        Stream* s = streams.find(f.stream);
        if (s == nullptr) continue;
        const std::uint64_t held = s->send.buffered();
        stats.stream_bytes_acked += s->send.on_acked(f.offset, f.length, f.fin);
        flow.on_released(held - s->send.buffered());
        if (s->write_blocked && flow.writable_again(s->send)) {
          s->write_blocked = false;
          push_event(Event::Kind::kWritable, s->id);
        }
        maybe_retire(*s);
      } else if (f.kind == SentFrameKind::kResetStream) {
        Stream* s = streams.find(f.stream);
        if (s == nullptr) continue;
        s->send.on_reset_acked();
        maybe_retire(*s);
      }
    }
  }

  void on_packet_lost(const SentPacket& p) override {
    if (p.mtu_probe) return pmtud.on_probe_lost(p.packet_number, p.bytes, clock);
    pmtud.on_other_loss(clock);
    requeue(p);
  }

  // Puts a packet's frames back in line to be sent in new packets.
  void requeue(const SentPacket& p) {
    for (const SentFrame& f : p.frames) {
      if (f.kind == SentFrameKind::kMaxData) {
        flow.on_max_data_lost();
      } else if (f.kind == SentFrameKind::kMaxStreams) {
        streams.on_max_streams_lost();
      } else {
        scheduler.on_frame_lost(f);
      }
    }
  }

  bool has_frames_due() const {
    return scheduler.has_frames_due() || flow.max_data_pending() || streams.max_streams_pending() ||
           ping_pending || probes_pending > 0;
  }

  // Writes MAX_DATA, MAX_STREAMS and then the streams' control frames; true if any.
  bool write_control(util::ByteWriter& w, std::size_t max, SentPacket& sp) {
    constexpr std::size_t kMaxControlFrame = 1 + 8 + 8 + 8;
    bool wrote = false;
    auto room = [&] { return max - w.size(); };
    if (flow.max_data_pending() && room() >= kMaxControlFrame) {
      const std::uint64_t limit = flow.take_max_data();
      encode(w, MaxDataFrame{limit});
      sp.frames.push_back({SentFrameKind::kMaxData, false, 0, limit, 0});
      wrote = true;
    }
    if (streams.max_streams_pending() && room() >= kMaxControlFrame) {
      const std::uint64_t limit = streams.take_max_streams();
      encode(w, MaxStreamsFrame{true, limit});
      sp.frames.push_back({SentFrameKind::kMaxStreams, false, 0, limit, 0});
      wrote = true;
    }
    return scheduler.write_control(w, max, sp.frames) || wrote;
  }

  // Numbers `out`, records it with the tracker and counts it.
  void record_sent(OutPacket& out, SentPacket&& sp, util::TimePoint now) {
    out.packet_number = tracker.next_packet_number();
    sp.packet_number = out.packet_number;
    sp.time_sent = now;
    sp.bytes = static_cast<std::uint32_t>(out.payload.size());
    tracker.on_packet_sent(std::move(sp));
    last_sent = now;
    ++stats.packets_sent;
    stats.bytes_sent += out.payload.size();
  }

  std::optional<OutPacket> build_close(util::TimePoint now, std::size_t max_payload) {
    const auto f = closing.take_frame(max_payload);
    if (!f) return std::nullopt;
    OutPacket out;
    util::ByteWriter w(out.payload);
    encode(w, *f);
    record_sent(out, SentPacket{}, now);
    return out;
  }

  // PING and PADDING up to the probe size: nothing to resend if it is lost.
  OutPacket build_mtu_probe(util::TimePoint now, std::size_t size) {
    OutPacket out;
    out.payload.reserve(pmtud.payload_for(size));
    util::ByteWriter w(out.payload);
    encode(w, PingFrame{});
    encode(w, PaddingFrame{pmtud.payload_for(size) - out.payload.size()});
    SentPacket sp;
    sp.ack_eliciting = true;
    sp.mtu_probe = true;
    pacer.on_sent(now, out.payload.size());
    record_sent(out, std::move(sp), now);
    pmtud.on_probe_sent(out.packet_number);
    ++stats.mtu_probes_sent;
    return out;
  }

  std::optional<OutPacket> poll_send(util::TimePoint now, std::size_t max_payload) {
    if (closing.closed()) return build_close(now, pmtud.packet_payload(max_payload));
    clock = now;
    const ProbeGate gate{probes_pending > 0 || tracker.pto_count() > 0, rtt.has_sample(),
                         rtt.smoothed()};
    const std::size_t mtu_probe = pmtud.probe_due(now, max_payload, gate);
    max_payload = pmtud.packet_payload(max_payload);
    // A packet leaves once the bucket holds a base-size packet, whatever its size: the
    // bucket may go into debt for the rest (it always holds a full packet's worth, so the
    // debt is never forgiven), and a small packet never waits for a big one's tokens.
    pacer.set_max_packet(mtu_probe != 0 ? pmtud.payload_for(mtu_probe) : max_payload);
    pacer.set_rate(cc->pacing_rate(rtt));
    last_max_payload = std::min<std::size_t>(max_payload, kMaxDatagramSize);
    const bool probing = probes_pending > 0;
    const bool cwnd_ok = probing || tracker.bytes_in_flight() < cc->window();
    const bool may_elicit = cwnd_ok && (probing || pacer.can_send(now, last_max_payload));
    if (may_elicit && mtu_probe != 0) return build_mtu_probe(now, mtu_probe);
    const bool ack_due = acks.due(now);
    if (!may_elicit && !ack_due) return std::nullopt;
    if (may_elicit && !has_frames_due()) {
      // Allowed to send but nothing to say: the rate samples now measure the app, not the path.
      tracker.on_app_limited();
      if (!acks.pending()) return std::nullopt;
    }

    OutPacket out;
    out.payload.reserve(max_payload);
    util::ByteWriter w(out.payload);
    SentPacket sp;
    sp.frames = tracker.take_frame_vector();
    sp.largest_acked = acks.write(w, now, max_payload);
    const bool has_ack = sp.largest_acked.has_value();
    bool eliciting = false;
    if (may_elicit) {
      eliciting = write_control(w, max_payload, sp);
      eliciting = scheduler.write_streams(out.payload, max_payload, sp.frames) || eliciting;
      // PING policy: asked for, a PTO probe with nothing else to carry, or every
      // kAckOnlyBeforePing-th ACK-only packet (so that our ACK ranges get acknowledged).
      const bool want_ping = ping_pending || (probing && !eliciting) ||
                             (has_ack && !eliciting && acks.ack_only_needs_ping());
      if (want_ping && out.payload.size() < max_payload) {
        encode(w, PingFrame{});
        eliciting = true;
      }
    }
    if (out.payload.empty() || (!eliciting && !ack_due)) return std::nullopt;

    sp.ack_eliciting = eliciting;
    out.answer_expected = eliciting;
    if (eliciting) {
      pacer.on_sent(now, out.payload.size());
      ping_pending = false;
      if (probing) --probes_pending;
    }
    acks.on_packet_sent(eliciting, has_ack);
    record_sent(out, std::move(sp), now);
    return out;
  }
};

Connection::Connection(Role role, util::TimePoint now, CongestionAlgorithm algorithm)
    : state_(std::make_unique<State>(role, now, algorithm)) {
  state_->arm_timers();
}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

void Connection::on_packet(std::uint64_t packet_number, util::ByteView payload,
                           util::TimePoint now) {
  state_->on_packet(packet_number, payload, now);
  state_->arm_timers();
}

std::optional<OutPacket> Connection::poll_send(util::TimePoint now, std::size_t max_payload) {
  auto out = state_->poll_send(now, max_payload);
  state_->arm_timers();
  return out;
}

util::TimePoint Connection::next_deadline() const { return state_->timers.next(); }

void Connection::on_timeout(util::TimePoint now) {
  state_->on_timeout(now);
  state_->arm_timers();
}

std::optional<Event> Connection::poll_event() {
  if (state_->events.empty()) return std::nullopt;
  Event e = state_->events.front();
  state_->events.pop_front();
  return e;
}

StreamId Connection::open_stream() { return state_->streams.open_local(); }
bool Connection::can_open_stream() const { return state_->streams.can_open_local(); }

std::size_t Connection::write(StreamId stream, util::ByteView data) {
  State& s = *state_;
  Stream* st = s.streams.find(stream);
  if (s.closing.closed() || st == nullptr || data.empty()) return 0;
  const std::uint64_t room = s.flow.write_room(st->send);
  const std::size_t n = st->send.write(data.first(std::min<std::uint64_t>(room, data.size())));
  s.flow.on_buffered(n);
  if (n < data.size() && !st->send.is_reset()) st->write_blocked = true;
  if (n > 0) s.scheduler.schedule(*st);
  s.arm_timers();
  return n;
}

void Connection::finish(StreamId stream) {
  State& s = *state_;
  Stream* st = s.streams.find(stream);
  if (s.closing.closed() || st == nullptr) return;
  st->send.finish();
  st->write_blocked = false;
  s.scheduler.schedule(*st);
  s.arm_timers();
}

void Connection::reset(StreamId stream, std::uint64_t error_code) {
  State& s = *state_;
  Stream* st = s.streams.find(stream);
  if (s.closing.closed() || st == nullptr) return;
  st->local_reset = true;
  st->write_blocked = false;
  const std::uint64_t held = st->send.buffered();
  if (st->send.reset(error_code)) {
    s.flow.on_released(held);
    s.scheduler.schedule_control(*st);
  }
  const auto before = FlowControl::snapshot(st->recv);
  st->recv.stop(error_code);
  s.account(*st, before);
  if (st->recv.stop_pending()) s.scheduler.schedule_control(*st);
  s.maybe_retire(*st);
  s.arm_timers();
}

std::size_t Connection::read(StreamId stream, std::span<std::uint8_t> out) {
  State& s = *state_;
  Stream* st = s.streams.find(stream);
  if (st == nullptr) return 0;
  st->readable_notified = false;
  const auto before = FlowControl::snapshot(st->recv);
  const std::size_t n = st->recv.read(out);
  if (n == 0) {
    if (st->recv.finished()) s.maybe_retire(*st);
  } else {
    s.account(*st, before);
    s.maybe_retire(*st);
  }
  s.arm_timers();
  return n;
}

bool Connection::read_finished(StreamId stream) const {
  return state_->streams.read_finished(stream);
}

bool Connection::write_finished(StreamId stream) const {
  return state_->streams.write_finished(stream);
}

void Connection::close(std::uint64_t app_code, const std::string& reason, util::TimePoint now) {
  state_->on_close(state_->closing.close_application(app_code, reason, now));
  state_->arm_timers();
}

bool Connection::is_duplicate(std::uint64_t pn) const { return state_->acks.is_duplicate(pn); }
bool Connection::closed() const { return state_->closing.closed(); }

const CloseReason& Connection::close_reason() const { return state_->closing.reason(); }

void Connection::ping() {
  state_->ping_pending = true;
  state_->arm_timers();
}

Stats Connection::stats() const {
  const State& s = *state_;
  Stats st = s.stats;
  st.packets_lost = s.tracker.packets_lost();
  st.mtu_probes_lost = s.tracker.probes_lost();
  st.max_datagram = s.pmtud.datagram_size();
  st.smoothed_rtt = s.rtt.smoothed();
  st.rtt_measured = s.rtt.has_sample();
  st.congestion_window = s.cc->window();
  st.bytes_in_flight = s.tracker.bytes_in_flight();
  st.open_streams = s.streams.size();
  for (const auto& [id, stream] : s.streams.all()) {
    st.send_buffered += stream.send.buffered();
    st.recv_buffered += stream.recv.buffered();
    st.buffer_memory += stream.send.allocated_bytes() + stream.recv.allocated_bytes();
  }
  return st;
}

void Connection::set_datagram_overhead(std::size_t bytes) {
  State& s = *state_;
  s.pmtud.set_overhead(bytes);
  s.cc->set_max_datagram(s.pmtud.datagram_size());
  s.arm_timers();
}

void Connection::abandon_in_flight(util::TimePoint now) {
  State& s = *state_;
  s.tracker.abandon_in_flight(now, s);
  s.arm_timers();
}

void Connection::reset_path(util::TimePoint now) {
  State& s = *state_;
  s.pmtud.reset(now, s.tracker.next_packet_number());
  s.cc->set_max_datagram(s.pmtud.datagram_size());
  s.rtt.reset();
  s.cc->reset();
  s.pacer.reset();
  s.tracker.reset_backoff();
  s.tracker.reset_reordering();
  s.arm_timers();
}

}  // namespace punch::transport
