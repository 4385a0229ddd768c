#include "transport/stream_scheduler.hpp"

#include "transport/frame.hpp"

namespace punch::transport {

bool StreamScheduler::sendable(const Stream& s) const {
  return streams_->allowed(s.id) && s.send.has_pending(flow_->send_credit());
}

void StreamScheduler::schedule(Stream& s, bool front) {
  if (s.queued || !sendable(s)) return;
  s.queued = true;
  if (front) {
    send_queue_.push_front(s.id);
  } else {
    send_queue_.push_back(s.id);
  }
}

void StreamScheduler::schedule_control(Stream& s) {
  if (s.control_queued) return;
  s.control_queued = true;
  control_queue_.push_back(s.id);
}

void StreamScheduler::on_connection_credit() {
  for (auto& [id, s] : streams_->all()) {
    if (s.send.wants_connection_credit()) schedule(s);
  }
}

bool StreamScheduler::write_control(util::ByteWriter& w, std::size_t max,
                                    std::vector<SentFrame>& frames) {
  constexpr std::size_t kMaxControlFrame = 1 + 8 + 8 + 8;
  bool wrote = false;
  while (!control_queue_.empty() && max - w.size() >= 3 * kMaxControlFrame) {
    const StreamId id = control_queue_.front();
    control_queue_.pop_front();
    Stream* s = streams_->find(id);
    if (s == nullptr) continue;
    s->control_queued = false;
    if (s->send.reset_pending()) {
      encode(w, ResetStreamFrame{id, s->send.reset_code(), s->send.final_size()});
      s->send.on_reset_sent();
      frames.push_back({SentFrameKind::kResetStream, false, id, 0, 0});
      wrote = true;
    }
    if (s->recv.stop_pending()) {
      encode(w, StopSendingFrame{id, s->recv.stop_code()});
      s->recv.on_stop_sent();
      frames.push_back({SentFrameKind::kStopSending, false, id, 0, 0});
      wrote = true;
    }
    if (s->window_update_pending) {
      s->window_update_pending = false;
      if (s->recv.needs_credit()) {
        const std::uint64_t limit = s->recv.take_window_update();
        encode(w, MaxStreamDataFrame{id, limit});
        frames.push_back({SentFrameKind::kMaxStreamData, false, id, limit, 0});
        wrote = true;
      }
    }
  }
  return wrote;
}

bool StreamScheduler::write_streams(util::Bytes& payload, std::size_t max,
                                    std::vector<SentFrame>& frames) {
  // Below this a frame would carry almost only header.
  constexpr std::size_t kMinStreamRoom = 24;
  bool wrote = false;
  while (!send_queue_.empty() && max - payload.size() >= kMinStreamRoom) {
    const StreamId id = send_queue_.front();
    send_queue_.pop_front();
    Stream* s = streams_->find(id);
    if (s == nullptr) continue;
    s->queued = false;
    if (!sendable(*s)) continue;
    const auto chunk = s->send.next_chunk(id, max - payload.size(), flow_->send_credit());
    if (!chunk) {
      s->queued = true;
      send_queue_.push_front(id);
      break;
    }
    util::ByteWriter w(payload);
    encode_stream_header(w, id, chunk->offset, chunk->length, chunk->fin);
    const std::size_t at = payload.size();
    payload.resize(at + static_cast<std::size_t>(chunk->length));
    s->send.copy_out(*chunk, payload.data() + at);
    s->send.on_sent(*chunk);
    if (!chunk->retransmit) flow_->on_new_data_sent(chunk->length);
    frames.push_back({SentFrameKind::kStream, chunk->fin, id, chunk->offset, chunk->length});
    wrote = true;
    schedule(*s);
  }
  return wrote;
}

void StreamScheduler::on_frame_lost(const SentFrame& f) {
  Stream* s = streams_->find(f.stream);
  if (s == nullptr) return;
  switch (f.kind) {
    case SentFrameKind::kStream:
      s->send.on_lost(f.offset, f.length, f.fin);
      schedule(*s, /*front=*/true);
      break;
    case SentFrameKind::kMaxStreamData:
      if (s->recv.needs_credit()) {
        s->window_update_pending = true;
        schedule_control(*s);
      }
      break;
    case SentFrameKind::kResetStream:
      s->send.on_reset_lost();
      if (s->send.reset_pending()) schedule_control(*s);
      break;
    case SentFrameKind::kStopSending:
      s->recv.on_stop_lost();
      if (s->recv.stop_pending()) schedule_control(*s);
      break;
    case SentFrameKind::kMaxData:
    case SentFrameKind::kMaxStreams:
      break;
  }
}

}  // namespace punch::transport
