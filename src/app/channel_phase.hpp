// The stream-preamble phases of one forwarded stream, without any I/O: the
// opener sends its request and bridges (or, for -R, awaits the reply on a
// control stream); the acceptor reads the request, has it served (refused,
// connected, bridged at once, or held as a -R listener) and replies. Inputs are
// the stream's bytes and the outcomes of what it asked for; commands go out
// through a sink that the Channel executes at once (docs/protocol.md "Stream
// preamble").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "util/bytes.hpp"
#include "wire/stream_preamble.hpp"

namespace punch::app {

/// One thing a channel's phases want done.
struct ChannelCommand {
  /// What to do.
  enum class Kind {
    kOpenStream,    ///< Open the stream and write `bytes` (our request) to it.
    kServe,         ///< Acceptor: serve `request`; `bytes` were read past it.
    kConnect,       ///< Acceptor: connect a TCP connection to `host`:`port`.
    kWriteStream,   ///< Write `bytes` (our reply) to the stream.
    kFinishStream,  ///< Send our FIN (after a refusal).
    kResetStream,   ///< Reset the stream, if there is one.
    kStartBridge,   ///< Bridge the local end: `bytes` go to it first; `expect_reply`
                    ///< strips the peer's reply first; `start_local` starts reading it.
    kReply,         ///< The awaited reply `reply` arrived (a -R opener).
    kAbortLocal,    ///< Tear the local end down (TCP: RST).
    kFinished,      ///< The channel is done: `reason` "" after a clean end, else why.
  };
  Kind kind = Kind::kFinished;  ///< What.
  util::Bytes bytes;            ///< kOpenStream, kServe, kWriteStream, kStartBridge.
  wire::StreamRequest request;  ///< kServe.
  wire::StreamReply reply;      ///< kReply.
  std::string host;             ///< kConnect.
  std::uint16_t port = 0;       ///< kConnect.
  bool expect_reply = false;    ///< kStartBridge.
  bool start_local = false;     ///< kStartBridge.
  std::string reason;           ///< kFinished.
};

/// Where one channel is, and what it does next.
class ChannelPhase {
 public:
  /// Where the channel is in its life.
  enum class State {
    kWaiting,     ///< Opener: local end ready, waiting for the session or the SOCKS request.
    kRequest,     ///< Acceptor: reading the peer's request from the stream.
    kConnecting,  ///< Acceptor: connecting the TCP target of the request.
    kBridging,    ///< Bytes flow both ways (the opener may still await the reply).
    kControl,     ///< A -R request: the stream stays open as long as the forward.
    kRefused,     ///< Refused; waiting for the opener to reset the stream (or, for a
                  ///< failed SOCKS5 negotiation, for the reply to reach the client).
    kDone,        ///< Finished.
  };
  /// Executes one command at once (it may call back into the phase).
  using Sink = std::function<void(const ChannelCommand&)>;

  /// Phases that send their commands to `sink`.
  explicit ChannelPhase(Sink sink) : sink_(std::move(sink)) {}

  /// Opener: the request to send once a session is up.
  void set_request(wire::StreamRequest request) { request_ = std::move(request); }
  /// Opener: the request not sent yet, or the -R request whose reply is awaited.
  const std::optional<wire::StreamRequest>& request() const { return request_; }
  /// Opener: opens the stream with the request, then bridges, or awaits a -R reply.
  void open();
  /// Acceptor: the peer opened the stream; its request comes first.
  void accept();

  /// True while stream bytes are the request (kRequest) and should be fed here.
  bool reading_request() const { return state_ == State::kRequest; }
  /// Stream bytes read in kRequest, kControl or kRefused.
  void on_stream_bytes(util::ByteView data);
  /// The peer's FIN was read in kRequest, kControl or kRefused.
  void on_stream_fin();

  /// Acceptor: connect to `host`:`port`; stream bytes read past the request,
  /// `leftover`, go to the target once connected.
  void connect(const std::string& host, std::uint16_t port, util::ByteView leftover);
  /// Acceptor: the kConnect target is connected (and is the local end now).
  void on_connected();
  /// Acceptor: replies OK and bridges a local end that exists already.
  void reply_and_bridge(util::ByteView leftover);
  /// Acceptor: replies `status` with `reason` and finishes our direction.
  void refuse(wire::StreamStatus status, const std::string& reason);
  /// Acceptor of a -R request: replies OK with `bound_port`; the stream stays open.
  void hold(std::uint16_t bound_port);
  /// Opener: the SOCKS5 negotiation failed; its reply goes out before the channel ends.
  void refuse_locally();

  /// The peer reset the stream.
  void on_stream_reset();
  /// The session ended with `reason` (outside kBridging: the bridge handles that).
  void on_session_down(const std::string& reason);
  /// Ends now: resets the stream, tears the local end down.
  void abort(const std::string& reason);
  /// Ends: "" after a clean end, else why.
  void finish(const std::string& reason);
  /// Marks the channel done without commands (shutdown: the I/O is released anyway).
  void halt() { state_ = State::kDone; }

  /// Where the channel is.
  State state() const { return state_; }
  /// True once finished.
  bool done() const { return state_ == State::kDone; }

 private:
  void write_reply(const wire::StreamReply& reply);
  void start_bridge(util::ByteView to_local, bool expect_reply, bool start_local);
  void run(ChannelCommand c) { sink_(c); }

  Sink sink_;
  State state_ = State::kWaiting;
  std::optional<wire::StreamRequest> request_;
  util::Bytes buffer_;  // request or reply bytes so far; kConnecting: bytes past the request
};

}  // namespace punch::app
