// Moves bytes between this process's stdin/stdout and one transport stream,
// with back-pressure both ways and netcat -N half-close semantics: EOF on stdin
// sends FIN; the peer's FIN closes stdout; the other direction keeps flowing.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "io/stdio.hpp"
#include "session/endpoint.hpp"
#include "transport/connection.hpp"
#include "util/bytes.hpp"
#include "util/time.hpp"

namespace punch::app {

/// Bridges stdio to a stream of a session of an Endpoint.
class StdioBridge {
 public:
  /// `changed` is called whenever the bridge queued work for the endpoint (so the
  /// caller schedules a flush); `finished` once, with "" on success or a reason.
  StdioBridge(uv_loop_t* loop, session::Endpoint& endpoint, std::function<void()> changed,
              std::function<void(const std::string&)> finished);
  ~StdioBridge();
  StdioBridge(const StdioBridge&) = delete;
  StdioBridge& operator=(const StdioBridge&) = delete;

  /// Starts bridging `stream` of session `connection_id`.
  void attach(std::uint64_t connection_id, transport::StreamId stream);
  /// True once attached to a stream.
  bool attached() const { return attached_; }
  /// The session the bridge is attached to.
  std::uint64_t connection_id() const { return cid_; }
  /// The stream the bridge is attached to.
  transport::StreamId stream() const { return stream_; }
  /// Reacts to a transport event of our stream.
  void on_stream_event(const transport::Event& event);
  /// Checks completion after the endpoint flushed (acks may have arrived).
  void poll();
  /// The session ended with `reason`; salvage what was already received.
  void on_session_down(const std::string& reason, bool peer_finished_cleanly);
  /// Stops everything without waiting (shutdown on a signal).
  void close();

 private:
  transport::Connection* connection();
  void on_input(util::ByteView data);
  void push_pending();
  void pull();
  void check_done();
  void fail(const std::string& reason);

  session::Endpoint& endpoint_;
  std::function<void()> changed_;
  std::function<void(const std::string&)> finished_;
  std::unique_ptr<io::InputStream> in_;
  std::unique_ptr<io::OutputStream> out_;
  std::uint64_t cid_ = 0;
  transport::StreamId stream_ = 0;
  bool attached_ = false;
  util::Bytes pending_;     // stdin bytes the stream did not take yet
  bool input_eof_ = false;  // stdin ended
  bool fin_sent_ = false;   // our FIN is queued in the transport
  bool out_done_ = false;   // our direction delivered (FIN acknowledged)
  bool output_finishing_ = false;
  bool in_done_ = false;  // peer's direction fully written to stdout
  bool reported_ = false;
  util::Bytes read_buffer_;
};

}  // namespace punch::app
