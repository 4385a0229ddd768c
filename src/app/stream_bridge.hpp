// Moves bytes between a local byte stream (stdio or a TCP connection) and one
// transport stream, with back-pressure both ways and TCP's half-close: EOF on
// the local side sends FIN; the peer's FIN half-closes the local side; the
// other direction keeps flowing. A reset on either side becomes a reset on the
// other. The opener of a stream may first have to strip the peer's preamble
// reply from the stream (expect_reply), which may arrive after it already
// started sending.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "io/duplex.hpp"
#include "session/endpoint.hpp"
#include "transport/connection.hpp"
#include "util/bytes.hpp"
#include "wire/stream_preamble.hpp"

namespace punch::app {

/// Bridges a local Duplex to a stream of a session of an Endpoint.
class StreamBridge {
 public:
  /// Called with the peer's preamble reply before any stream byte reaches the
  /// local side; the bridge fails with the reply's reason unless it is kOk.
  using ReplyFn = std::function<void(const wire::StreamReply&)>;
  /// Called once: "" when both directions completed, else why the bridge failed.
  using FinishedFn = std::function<void(const std::string& reason)>;

  /// Bridges `local` (not owned; it must outlive the bridge and route its input
  /// to on_local_data/on_local_end) and `stream` of session `cid`. `changed` is
  /// called whenever work was queued for the endpoint (so the caller flushes).
  StreamBridge(session::Endpoint& endpoint, std::uint64_t cid, transport::StreamId stream,
               io::Duplex& local, std::function<void()> changed, FinishedFn finished);
  StreamBridge(const StreamBridge&) = delete;
  StreamBridge& operator=(const StreamBridge&) = delete;

  /// Makes the bridge strip a wire::StreamReply off the stream before passing bytes on.
  void expect_reply(ReplyFn on_reply);
  /// Sets what to call once our FIN is queued: from then on poll() has work to do.
  void on_fin_sent(std::function<void()> fn) { on_fin_sent_ = std::move(fn); }
  /// Starts: writes `to_local` (stream bytes already read past a preamble) to
  /// the local side, then moves data both ways.
  void start(util::ByteView to_local = {});

  /// Local input (route the Duplex's DataFn here).
  void on_local_data(util::ByteView data);
  /// Local end of input: "" for EOF, else an error (route the Duplex's EndFn here).
  void on_local_end(const std::string& error);
  /// Reacts to a transport event of our stream.
  void on_stream_event(const transport::Event& event);
  /// Checks completion after the endpoint flushed (acknowledgements may have arrived).
  void poll();
  /// The session ended with `reason`; `peer_finished_cleanly` when the peer
  /// closed it after completing its direction, so buffered bytes are all there is.
  void on_session_down(const std::string& reason, bool peer_finished_cleanly);

  /// True while our FIN waits for its acknowledgement (poll() completes it).
  bool awaiting_ack() const { return fin_sent_ && !out_done_ && !reported_; }
  /// True once finished (either way).
  bool finished() const { return reported_; }
  /// Stream bytes moved to the local side.
  std::uint64_t bytes_in() const { return bytes_in_; }
  /// Local bytes moved into the stream.
  std::uint64_t bytes_out() const { return bytes_out_; }

 private:
  transport::Connection* connection();
  void push_pending();
  void pull();
  bool strip_reply(util::ByteView data, std::size_t& used);
  void check_done();
  void fail(const std::string& reason, bool reset_stream);

  session::Endpoint& endpoint_;
  std::uint64_t cid_;
  transport::StreamId stream_;
  io::Duplex& local_;
  std::function<void()> changed_;
  FinishedFn finished_;
  ReplyFn on_reply_;
  std::function<void()> on_fin_sent_;
  bool awaiting_reply_ = false;
  util::Bytes reply_buffer_;  // reply bytes so far, while awaiting it
  bool started_ = false;
  util::Bytes pending_;     // local bytes the stream did not take yet
  bool input_eof_ = false;  // local input ended
  bool fin_sent_ = false;   // our FIN is queued in the transport
  bool out_done_ = false;   // our direction delivered (FIN acknowledged)
  bool output_finishing_ = false;
  bool in_done_ = false;  // peer's direction fully written locally
  bool reported_ = false;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
};

}  // namespace punch::app
