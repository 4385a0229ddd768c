// Everything a tunnel endpoint carries over its sessions' streams: stdio, -L
// and -D connections opened here, -R listeners opened on the listener for the
// connector, and the requests each side serves for the other. Every TCP
// connection (and stdio) is one transport stream that starts with a preamble
// (wire/stream_preamble.hpp): a request from the side that opens it, a reply
// from the other, then raw bytes both ways.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "app/channel.hpp"
#include "app/event_log.hpp"
#include "forward/auth_backoff.hpp"
#include "forward/forward_spec.hpp"
#include "forward/permit_policy.hpp"
#include "io/loop.hpp"
#include "io/tcp_listener.hpp"
#include "io/timer.hpp"
#include "session/endpoint.hpp"
#include "transport/connection.hpp"
#include "util/result.hpp"
#include "wire/stream_preamble.hpp"

namespace punch::app {

/// What this endpoint forwards and serves.
struct ForwarderOptions {
  /// Listener: serves requests of connectors; connector: opens them.
  bool listener = false;
  /// Bridge stdio to a stream: the connector opens it; the listener serves the first.
  bool stdio = true;
  /// Connector: the stdio stream connects to this HOST:PORT on the listener's side (ssh -W).
  std::optional<forward::HostPort> target;
  /// Connector: -L forwards.
  std::vector<forward::ForwardSpec> local;
  /// Connector: -R forwards.
  std::vector<forward::ForwardSpec> remote;
  /// Connector: -D SOCKS5 proxies.
  std::vector<forward::DynamicSpec> dynamic;
  /// Connector: RFC 1929 credentials the SOCKS5 proxies demand, if any.
  std::optional<std::pair<std::string, std::string>> socks_credentials;
  /// Listener: what connectors may reach and bind.
  forward::PermitPolicy policy;
  /// Both: --idle-timeout; a forwarded connection that moves no byte for this long is
  /// reset (zero: never). Stdio and -R control streams are exempt.
  util::Duration idle_timeout{};
};

/// Moves every stream of every session of one endpoint.
class Forwarder final : private ChannelOwner {
 public:
  /// `changed` is called whenever work was queued for the endpoint (the caller
  /// flushes soon); `stdio_finished` once the stdio stream is done ("" or why not).
  Forwarder(io::Loop& loop, session::Endpoint& endpoint, EventLog& events, ForwarderOptions options,
            std::function<void()> changed, std::function<void(const std::string&)> stdio_finished);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  /// Connector: binds the -L and -D ports (before any session, so mistakes show at once).
  util::Status bind_local_ports();
  /// Connector: session `cid` is up; opens stdio, -R requests and waiting connections.
  void on_session_up(std::uint64_t cid);
  /// Reacts to a transport event of session `cid`.
  void on_stream_event(std::uint64_t cid, const transport::Event& event);
  /// Session `cid` ended; `clean` when the peer closed it after finishing its streams.
  void on_session_down(std::uint64_t cid, const std::string& reason, bool clean);
  /// After each endpoint flush: completes bridges and forgets finished channels.
  void poll();
  /// True while any channel of session `cid` still runs.
  bool has_channels(std::uint64_t cid) const;
  /// Stops everything without waiting (shutdown).
  void close();

 private:
  // ChannelOwner: what the channels ask of the forwarder.
  ChannelOwner& owner() { return *this; }
  io::Loop& loop() override { return loop_; }
  session::Endpoint& endpoint() override { return endpoint_; }
  util::Duration idle_timeout() const override { return options_.idle_timeout; }
  void changed() override { changed_(); }
  void watch(Channel& channel) override { finishing_.push_back(&channel); }
  void channel_finished() override { sweep_ = true; }
  void route(Channel& channel) override;
  void serve_request(Channel& channel, const wire::StreamRequest& request,
                     util::ByteView leftover) override;

  void accept_local(std::unique_ptr<io::TcpConnection> tcp, std::size_t local_index);
  void accept_dynamic(std::unique_ptr<io::TcpConnection> tcp);
  void accept_remote(std::unique_ptr<io::TcpConnection> tcp, std::uint64_t cid,
                     std::uint64_t forward_id);
  void serve_connect(Channel& channel, const wire::StreamRequest& request, util::ByteView leftover);
  void serve_remote_bind(Channel& channel, const wire::StreamRequest& request);
  void serve_remote_connection(Channel& channel, const wire::StreamRequest& request,
                               util::ByteView leftover);
  void open_pending(std::uint64_t cid);
  void open_credit_waiters();
  void watch_deadline(util::TimePoint deadline);
  void check_deadlines();
  Channel& add(std::unique_ptr<Channel> channel);
  transport::Connection* connection(std::uint64_t cid);
  void on_stdio_finished(const std::string& reason);

  io::Loop& loop_;
  session::Endpoint& endpoint_;
  EventLog& events_;
  ForwarderOptions options_;
  std::function<void()> changed_;
  std::function<void(const std::string&)> stdio_finished_;
  std::vector<std::unique_ptr<io::TcpListener>> local_listeners_;  // -L then -D
  std::vector<std::unique_ptr<Channel>> channels_;
  std::map<std::pair<std::uint64_t, transport::StreamId>, Channel*> by_stream_;
  std::vector<Channel*> finishing_;       // channels whose FIN awaits its acknowledgement
  std::vector<Channel*> credit_waiters_;  // openers waiting for stream credit, oldest first
  forward::AuthBackoff auth_backoff_;     // -D: SOCKS5 password guessing, per client
  io::Timer deadline_timer_;              // idle timeouts and credit waits (check_deadlines)
  util::TimePoint deadline_armed_ = util::kNever;
  bool sweep_ = false;         // some channel finished since the last poll()
  std::uint64_t session_ = 0;  // connector: the one session, once up
  bool stdio_used_ = false;
  bool closed_ = false;
};

}  // namespace punch::app
