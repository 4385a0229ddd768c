// One forwarded stream and its local end (stdio or a TCP connection): executes
// the commands of its ChannelPhase (the preamble's phases, sans-I/O) on the
// transport stream, the local end, a TCP connect and the StreamBridge, and runs
// the SOCKS5 negotiation of a -D connection. A channel never deletes itself: it
// marks itself done and its owner forgets it after the current callback returns.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "app/channel_deadline.hpp"
#include "app/channel_phase.hpp"
#include "app/stream_bridge.hpp"
#include "forward/socks_server.hpp"
#include "io/duplex.hpp"
#include "io/loop.hpp"
#include "io/tcp_connection.hpp"
#include "io/tcp_listener.hpp"
#include "io/timer.hpp"
#include "transport/connection.hpp"
#include "util/bytes.hpp"
#include "wire/stream_preamble.hpp"

namespace punch::app {

class Channel;

/// What a channel needs from whoever keeps it (the Forwarder).
class ChannelOwner {
 public:
  /// The loop the channel's TCP connects run on.
  virtual io::Loop& loop() = 0;
  /// The endpoint whose sessions carry the streams.
  virtual session::Endpoint& endpoint() = 0;
  /// --idle-timeout: how long a forwarded connection may move no byte (zero: forever).
  virtual util::Duration idle_timeout() const = 0;
  /// Work was queued for the endpoint: flush soon.
  virtual void changed() = 0;
  /// `channel`'s FIN awaits its acknowledgement: poll it after flushes.
  virtual void watch(Channel& channel) = 0;
  /// A channel finished: forget it after the current callback.
  virtual void channel_finished() = 0;
  /// An opener became ready (its SOCKS5 request is complete): open it if a session is up.
  virtual void route(Channel& channel) = 0;
  /// Acceptor: serve `request` (the channel's refuse/connect_and_bridge/...);
  /// `leftover` was read past it.
  virtual void serve_request(Channel& channel, const wire::StreamRequest& request,
                             util::ByteView leftover) = 0;

 protected:
  ~ChannelOwner() = default;
};

/// A stream being forwarded, from either end.
class Channel {
 public:
  /// Where the channel is in its life.
  using Phase = ChannelPhase::State;

  /// A channel of session `cid` kept by `owner`; `label` names it in logs.
  Channel(ChannelOwner& owner, std::uint64_t cid, std::string label);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  /// Takes the local end and starts reading it (into the SOCKS negotiation, if
  /// `socks` is set, else into a buffer until the bridge starts).
  void attach_local(std::unique_ptr<io::Duplex> local,
                    std::unique_ptr<forward::SocksServer> socks = nullptr);
  /// Sets the request this opener sends once the session is up.
  void set_request(wire::StreamRequest request) { phase_.set_request(std::move(request)); }
  /// True when an opener waits for nothing but a session to open its stream on.
  bool ready_to_open() const;
  /// Opener: opens the stream on session `cid` (established), sends the request
  /// and starts bridging (or, for a -R request, awaits its reply).
  void open(std::uint64_t cid);
  /// Acceptor: starts reading the request of `stream`, opened by the peer.
  void accept_stream(transport::StreamId stream);

  /// Acceptor: connects to `host`:`port` and, once connected, replies OK and
  /// bridges (stream bytes read past the request, `leftover`, go out first).
  void connect_and_bridge(const std::string& host, std::uint16_t port, util::ByteView leftover);
  /// Acceptor: replies OK and bridges `local` at once (stdio, or an accepted connection).
  void reply_and_bridge(std::unique_ptr<io::Duplex> local, util::ByteView leftover);
  /// Acceptor: replies with `status` and `reason`, then waits for the opener's reset.
  void refuse(wire::StreamStatus status, const std::string& reason);
  /// Acceptor of a -R request: replies OK with `bound_port` and keeps `listener` open.
  void hold_listener(std::unique_ptr<io::TcpListener> listener, std::uint16_t bound_port);

  /// Reacts to a transport event of this channel's stream.
  void on_stream_event(const transport::Event& event);
  /// Checks the bridge after a flush.
  void poll();
  /// True while our FIN waits for its acknowledgement.
  bool awaiting_ack() const { return bridge_ && bridge_->awaiting_ack(); }
  /// The session ended.
  void on_session_down(const std::string& reason, bool clean);
  /// Ends the channel now: resets the stream if it runs, resets the local end.
  void abort(const std::string& reason);
  /// Releases the local end and any listener without callbacks (process shutdown).
  void shutdown();

  /// Opener: no stream can be opened for now (the peer's credit is used up); the wait
  /// started at the first call and ends in a refusal after kStreamCreditWait.
  void wait_for_credit(util::TimePoint now) { deadline_.on_credit_wait(now); }
  /// True while the opener waits for stream credit.
  bool waiting_for_credit() const { return !done() && deadline_.waiting_for_credit(); }
  /// The idle timeout does not apply to this channel (stdio, a -R control stream).
  void exempt_from_idle() { deadline_.exempt_from_idle(); }
  /// When check_deadline() may next act; kNever if it cannot.
  util::TimePoint deadline() const { return done() ? util::kNever : deadline_.deadline(); }
  /// Gives the channel up if a deadline passed at `now`: refuses it when it waited for
  /// stream credit in vain (a SOCKS5 "general failure" reply, else a TCP reset), resets
  /// it when it was idle; returns why, or kNone.
  ChannelDeadline::Expiry check_deadline(util::TimePoint now);
  /// Session of the channel.
  std::uint64_t cid() const { return cid_; }
  /// The stream, once opened or accepted.
  std::optional<transport::StreamId> stream() const { return stream_; }
  /// Current phase.
  Phase phase() const { return phase_.state(); }
  /// True once finished.
  bool done() const { return phase_.done(); }
  /// Name for logs ("-L 127.0.0.1:8080 -> db:5432 from 127.0.0.1:51234").
  const std::string& label() const { return label_; }
  /// Called once when the channel is done: "" after a clean end, else why.
  void on_finished(std::function<void(const std::string&)> fn) { on_finished_ = std::move(fn); }
  /// Called with the peer's reply (opener) before bytes flow.
  void on_reply(std::function<void(const wire::StreamReply&)> fn) { on_reply_ = std::move(fn); }

 private:
  transport::Connection* connection();
  void execute(const ChannelCommand& c);
  void start_local();
  void on_local_data(util::ByteView data);
  void on_local_end(const std::string& error);
  void socks_step();
  void on_socks_timer();
  void refuse_unopened(const std::string& reason);
  void read_request();
  void read_control();
  void start_bridge(util::ByteView to_local, bool expect_reply);
  void write_stream(const util::Bytes& bytes);
  void start_connect(const std::string& host, std::uint16_t port);
  void bridge_finished(const std::string& reason);
  void finished(const std::string& reason);

  ChannelOwner& owner_;
  std::uint64_t cid_;
  std::string label_;
  ChannelPhase phase_;
  std::optional<transport::StreamId> stream_;
  std::unique_ptr<io::Duplex> local_;
  std::unique_ptr<io::TcpConnection> connecting_;  // acceptor: until connected
  std::unique_ptr<forward::SocksServer> socks_;
  std::unique_ptr<io::TcpListener> listener_;  // acceptor of a -R request
  std::unique_ptr<StreamBridge> bridge_;
  std::unique_ptr<io::Timer> socks_timer_;  // a deferred SOCKS5 password check
  ChannelDeadline deadline_;
  util::Bytes local_early_;  // local bytes read before the bridge started
  bool local_eof_ = false;
  bool close_gracefully_ = false;  // a SOCKS5 refusal is queued locally: FIN, not RST
  std::function<void(const std::string&)> on_finished_;
  std::function<void(const wire::StreamReply&)> on_reply_;
};

}  // namespace punch::app
