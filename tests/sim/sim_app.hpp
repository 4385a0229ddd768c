// The application side of a simulated endpoint: writes queued data as the
// transport accepts it, reads what arrives (unless reading is stalled, for the
// whole connection or for one stream), and records events. Shared by the scenarios.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "transport/connection.hpp"
#include "util/bytes.hpp"
#include "util/time.hpp"

namespace punch::sim {

/// True when the tests run under sanitizers (`make test` sets PUNCH_SANITIZED for the
/// ASan+UBSan run), where everything is 5-10x slower: scenarios run fewer seeds.
inline bool sanitized() { return std::getenv("PUNCH_SANITIZED") != nullptr; }

/// Seeds to run a scenario over: `normal`, or `reduced` under sanitizers.
inline std::uint64_t seeds(std::uint64_t normal, std::uint64_t reduced) {
  return sanitized() ? reduced : normal;
}

/// Deterministic bytes that differ per seed and per position, so reordering shows.
inline util::Bytes pattern(std::size_t n, std::uint64_t seed) {
  util::Bytes out(n);
  std::uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<std::uint8_t>(x);
  }
  return out;
}

/// Megabits per second for `bytes` moved in `d`.
inline double mbit_per_s(std::size_t bytes, util::Duration d) {
  return static_cast<double>(bytes) * 8 / 1e6 / std::chrono::duration<double>(d).count();
}

/// One end's application.
class Endpoint {
 public:
  /// Bytes queued for one stream.
  struct Outgoing {
    util::Bytes data;
    std::size_t written = 0;
    bool finish = true;
    bool finished = false;
  };
  /// Bytes received on one stream.
  struct Incoming {
    util::Bytes data;
    bool fin = false;
    bool reset = false;
  };

  /// Drives the application side of `c`.
  explicit Endpoint(transport::Connection& c) : c_(c) {}

  /// Queues `data` on `id` (and a FIN after it if `finish`).
  void send(transport::StreamId id, const util::Bytes& data, bool finish = true) {
    Outgoing& o = out_[id];
    o.data.insert(o.data.end(), data.begin(), data.end());
    o.finish = finish;
    pump(id);
  }

  /// Handles the pending events.
  void step() {
    while (auto e = c_.poll_event()) {
      if (keep_events) events.push_back(*e);
      switch (e->kind) {
        case transport::Event::Kind::kStreamOpened:
          in_[e->stream];
          if (on_open) on_open(e->stream);
          break;
        case transport::Event::Kind::kReadable:
          if (reading && !stalled.contains(e->stream)) read_all(e->stream);
          break;
        case transport::Event::Kind::kWritable:
          ++writable_events;
          pump(e->stream);
          break;
        case transport::Event::Kind::kStreamReset:
          in_[e->stream].reset = true;
          break;
        case transport::Event::Kind::kClosed:
          break;
      }
    }
  }

  /// Reads everything again after a stall.
  void resume_reading() {
    reading = true;
    stalled.clear();
    for (auto& [id, in] : in_) read_all(id);
  }

  /// What arrived on `id`.
  Incoming& in(transport::StreamId id) { return in_[id]; }
  /// What is queued on `id`.
  Outgoing& out(transport::StreamId id) { return out_[id]; }
  /// True when `size` bytes and the FIN arrived on `id`.
  bool complete(transport::StreamId id, std::size_t size) {
    auto it = in_.find(id);
    return it != in_.end() && it->second.fin && it->second.data.size() == size;
  }
  /// Events of `kind` seen for `id`.
  std::size_t count(transport::Event::Kind kind, transport::StreamId id) const {
    std::size_t n = 0;
    for (const transport::Event& e : events) n += e.kind == kind && e.stream == id ? 1 : 0;
    return n;
  }
  /// Forgets received data of `id` once checked, so long runs do not hold it all.
  void forget(transport::StreamId id) {
    in_.erase(id);
    out_.erase(id);
  }

  std::vector<transport::Event> events;              ///< Every event seen.
  bool reading = true;                               ///< False: the whole app stops reading.
  std::set<transport::StreamId> stalled;             ///< Streams whose reader stopped.
  std::size_t writable_events = 0;                   ///< kWritable events seen.
  std::size_t short_writes = 0;                      ///< write() calls that took less than offered.
  std::function<void(transport::StreamId)> on_open;  ///< Called for each peer stream.
  bool keep_events = true;                           ///< False: do not record events (long runs).

 private:
  void pump(transport::StreamId id) {
    auto it = out_.find(id);
    if (it == out_.end()) return;
    Outgoing& o = it->second;
    while (o.written < o.data.size()) {
      const std::size_t chunk = std::min<std::size_t>(64 * 1024, o.data.size() - o.written);
      const std::size_t n = c_.write(id, util::ByteView(o.data).subspan(o.written, chunk));
      o.written += n;
      if (n < chunk) {
        ++short_writes;
        return;
      }
    }
    if (o.finish && !o.finished) {
      c_.finish(id);
      o.finished = true;
    }
  }

  void read_all(transport::StreamId id) {
    Incoming& in = in_[id];
    std::uint8_t buf[16384];
    while (std::size_t n = c_.read(id, buf)) in.data.insert(in.data.end(), buf, buf + n);
    if (c_.read_finished(id)) in.fin = true;
  }

  transport::Connection& c_;
  std::map<transport::StreamId, Outgoing> out_;
  std::map<transport::StreamId, Incoming> in_;
};

}  // namespace punch::sim
