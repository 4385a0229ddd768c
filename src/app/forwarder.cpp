#include "app/forwarder.hpp"

#include <algorithm>

#include "app/channel.hpp"
#include "forward/constants.hpp"
#include "io/sockaddr.hpp"
#include "io/stdio_duplex.hpp"
#include "util/log.hpp"

namespace punch::app {

namespace {

std::string stream_text(transport::StreamId stream) { return std::to_string(stream); }

// A bind address the listener can use without blocking on DNS: an IP literal,
// or what forward::default_bind_address() makes of "", "*" and "localhost".
util::Result<util::Address> bind_address(const std::string& host, std::uint16_t port) {
  const std::string ip = forward::default_bind_address(host);
  if (auto a = util::Address::from_ip(ip, port)) return *a;
  return util::Error{"bind address '" + host + "' is not an IP address or localhost"};
}

}  // namespace

Forwarder::Forwarder(io::Loop& loop, session::Endpoint& endpoint, EventLog& events,
                     ForwarderOptions options, std::function<void()> changed,
                     std::function<void(const std::string&)> stdio_finished)
    : loop_(loop),
      endpoint_(endpoint),
      events_(events),
      options_(std::move(options)),
      changed_(std::move(changed)),
      stdio_finished_(std::move(stdio_finished)),
      deadline_timer_(loop, [this] { check_deadlines(); }) {}

Forwarder::~Forwarder() { close(); }

transport::Connection* Forwarder::connection(std::uint64_t cid) {
  session::Session* s = endpoint_.session(cid);
  if (s == nullptr || !s->established() || s->ended()) return nullptr;
  return &s->connection();
}

util::Status Forwarder::bind_local_ports() {
  const std::size_t count = options_.local.size() + options_.dynamic.size();
  for (std::size_t i = 0; i < count; ++i) {
    const bool dynamic = i >= options_.local.size();
    const std::string& host = dynamic ? options_.dynamic[i - options_.local.size()].bind_host
                                      : options_.local[i].bind_host;
    const std::uint16_t port = dynamic ? options_.dynamic[i - options_.local.size()].bind_port
                                       : options_.local[i].bind_port;
    const std::string option = dynamic ? "-D" : "-L";
    auto address = bind_address(host, port);
    if (!address) return util::Error{option + ": " + address.error().message};
    auto listener = std::make_unique<io::TcpListener>(loop_);
    auto status = listener->listen(*address, [this, i, dynamic](auto tcp) {
      if (dynamic) {
        accept_dynamic(std::move(tcp));
      } else {
        accept_local(std::move(tcp), i);
      }
    });
    if (!status) return util::Error{option + ": " + status.error().message};
    const std::string bound = listener->local_address().to_string();
    if (dynamic) {
      util::log_info("SOCKS5 proxy on " + bound + " (-D)");
      events_.emit("forward", {{"kind", "dynamic"}, {"address", bound}});
    } else {
      const forward::ForwardSpec& f = options_.local[i];
      const std::string target = forward::format_host_port(f.host, f.host_port);
      util::log_info("forwarding " + bound + " -> " + target + " on the listener's side (-L)");
      events_.emit("forward", {{"kind", "local"}, {"address", bound}, {"target", target}});
    }
    local_listeners_.push_back(std::move(listener));
  }
  return util::ok_status();
}

Channel& Forwarder::add(std::unique_ptr<Channel> channel) {
  channels_.push_back(std::move(channel));
  return *channels_.back();
}

void Forwarder::route(Channel& channel) {
  if (closed_ || !channel.ready_to_open()) return;
  // A connector's openers use its one session; a listener's (-R connections) their own.
  const std::uint64_t cid = options_.listener ? channel.cid() : session_;
  transport::Connection* c = cid == 0 ? nullptr : connection(cid);
  if (c == nullptr) return;
  if (!c->can_open_stream()) {
    // The peer's stream credit is used up: wait a bounded time for more, rather than
    // open a stream that may never be allowed to send (issue 17).
    const bool first = !channel.waiting_for_credit();
    channel.wait_for_credit(io::now());
    if (first) {
      credit_waiters_.push_back(&channel);
      watch_deadline(channel.deadline());
    }
    return;
  }
  channel.open(cid);
  by_stream_[{cid, *channel.stream()}] = &channel;
}

// Opens waiting openers, oldest first, wherever a MAX_STREAMS brought credit.
void Forwarder::open_credit_waiters() {
  if (credit_waiters_.empty()) return;
  std::vector<Channel*> waiting;
  waiting.swap(credit_waiters_);
  for (Channel* channel : waiting) {
    if (!channel->waiting_for_credit()) continue;  // done, or given up
    route(*channel);
    if (channel->waiting_for_credit()) credit_waiters_.push_back(channel);
  }
}

// Makes sure check_deadlines() runs by `deadline`, but never more often than
// kDeadlineCheckInterval: one pass covers every channel.
void Forwarder::watch_deadline(util::TimePoint deadline) {
  if (closed_ || deadline == util::kNever) return;
  const util::TimePoint now = io::now();
  deadline = std::max(deadline, now + forward::kDeadlineCheckInterval);
  if (deadline >= deadline_armed_) return;
  deadline_armed_ = deadline;
  deadline_timer_.arm(deadline, now);
}

void Forwarder::check_deadlines() {
  deadline_armed_ = util::kNever;
  if (closed_) return;
  const util::TimePoint now = io::now();
  std::size_t idle = 0;
  std::size_t refused = 0;
  util::TimePoint next = util::kNever;
  for (const auto& channel : channels_) {
    switch (channel->check_deadline(now)) {
      case ChannelDeadline::Expiry::kIdle:
        ++idle;
        break;
      case ChannelDeadline::Expiry::kNoStreamCredit:
        ++refused;
        break;
      case ChannelDeadline::Expiry::kNone:
        next = std::min(next, channel->deadline());
        break;
    }
  }
  // One line a pass, whatever the count: thousands of expiries must not flood stderr.
  if (idle > 0) {
    util::log_info("reset " + std::to_string(idle) +
                   " forwarded connection(s) idle for longer than --idle-timeout");
  }
  if (refused > 0) {
    util::log_warn(
        "refused " + std::to_string(refused) +
        " forwarded connection(s): the peer's stream limit stayed full for " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::seconds>(forward::kStreamCreditWait).count()) +
        " s");
    events_.emit("forward_refused",
                 {{"reason", "stream limit"}, {"count", static_cast<std::int64_t>(refused)}});
  }
  watch_deadline(next);
}

void Forwarder::accept_local(std::unique_ptr<io::TcpConnection> tcp, std::size_t index) {
  const forward::ForwardSpec& f = options_.local[index];
  const std::string target = forward::format_host_port(f.host, f.host_port);
  auto channel = std::make_unique<Channel>(
      owner(), session_, "-L " + tcp->peer_address().to_string() + " -> " + target);
  channel->set_request(wire::StreamRequest{wire::StreamKind::kConnect, f.host, f.host_port, 0, ""});
  channel->on_reply([label = channel->label()](const wire::StreamReply& reply) {
    if (reply.status != wire::StreamStatus::kOk) util::log_warn(label + ": " + reply.reason);
  });
  channel->attach_local(std::move(tcp));
  Channel& added = add(std::move(channel));
  watch_deadline(added.deadline());
  route(added);
}

void Forwarder::accept_dynamic(std::unique_ptr<io::TcpConnection> tcp) {
  const util::Address client = tcp->peer_address();
  auto channel = std::make_unique<Channel>(owner(), session_, "-D " + client.to_string());
  channel->attach_local(std::move(tcp), std::make_unique<forward::SocksServer>(
                                            options_.socks_credentials, &auth_backoff_, client));
  watch_deadline(add(std::move(channel)).deadline());  // routed once its request is complete
}

void Forwarder::on_session_up(std::uint64_t cid) {
  if (options_.listener || closed_) return;
  session_ = cid;
  const std::string peer = endpoint_.session(cid)->peer().to_string();
  if (options_.stdio) {
    auto channel = std::make_unique<Channel>(owner(), cid, "stdio");
    if (options_.target) {
      channel->set_request(wire::StreamRequest{wire::StreamKind::kConnect, options_.target->host,
                                               options_.target->port, 0, ""});
    } else {
      channel->set_request(wire::StreamRequest{wire::StreamKind::kStdio, "", 0, 0, ""});
    }
    channel->attach_local(std::make_unique<io::StdioDuplex>(loop_));
    channel->exempt_from_idle();
    channel->on_finished([this](const std::string& reason) { on_stdio_finished(reason); });
    Channel& added = add(std::move(channel));
    route(added);
    stdio_used_ = true;
    events_.emit("stream_open",
                 {{"peer", peer}, {"stream", static_cast<std::int64_t>(*added.stream())}});
  }
  for (std::size_t i = 0; i < options_.remote.size(); ++i) {
    const forward::ForwardSpec& f = options_.remote[i];
    const std::string what = "-R " + forward::format_host_port(f.bind_host, f.bind_port) + ":" +
                             forward::format_host_port(f.host, f.host_port);
    auto channel = std::make_unique<Channel>(owner(), cid, what);
    channel->exempt_from_idle();  // the forward lasts as long as the session
    channel->set_request(
        wire::StreamRequest{wire::StreamKind::kRemoteBind, f.bind_host, f.bind_port, i, ""});
    channel->on_reply([this, what, f](const wire::StreamReply& reply) {
      if (reply.status != wire::StreamStatus::kOk) {
        util::log_error(what + " refused by the listener: " + reply.reason);
        events_.emit("forward_failed", {{"kind", "remote"}, {"reason", reply.reason}});
        return;
      }
      const std::string target = forward::format_host_port(f.host, f.host_port);
      util::log_info("the listener forwards its port " + std::to_string(reply.bound_port) + " -> " +
                     target + " on this side (-R)");
      events_.emit("forward", {{"kind", "remote"},
                               {"port", static_cast<std::int64_t>(reply.bound_port)},
                               {"target", target}});
    });
    route(add(std::move(channel)));
  }
  open_pending(cid);
}

void Forwarder::open_pending(std::uint64_t cid) {
  if (cid != session_) return;
  // route() may add nothing, but take a snapshot: opening never adds channels.
  for (const auto& channel : channels_) route(*channel);
}

void Forwarder::on_stream_event(std::uint64_t cid, const transport::Event& event) {
  if (closed_) return;
  if (event.kind == transport::Event::Kind::kStreamOpened) {
    auto channel = std::make_unique<Channel>(owner(), cid, "stream " + stream_text(event.stream));
    Channel& added = add(std::move(channel));
    by_stream_[{cid, event.stream}] = &added;
    watch_deadline(added.deadline());
    added.accept_stream(event.stream);
    return;
  }
  const auto it = by_stream_.find({cid, event.stream});
  if (it != by_stream_.end()) it->second->on_stream_event(event);
}

void Forwarder::serve_request(Channel& channel, const wire::StreamRequest& request,
                              util::ByteView leftover) {
  const bool for_listener = request.kind != wire::StreamKind::kRemoteConnection;
  if (for_listener != options_.listener) {
    channel.refuse(wire::StreamStatus::kUnsupported, "this side does not serve that request");
    return;
  }
  switch (request.kind) {
    case wire::StreamKind::kStdio:
      if (!options_.stdio) {
        channel.refuse(wire::StreamStatus::kNotAllowed,
                       "the listener serves forwards only (it runs with -N)");
      } else if (stdio_used_) {
        channel.refuse(wire::StreamStatus::kBusy, "listener's stdio is busy with another session");
      } else {
        stdio_used_ = true;
        channel.exempt_from_idle();
        channel.on_finished([this](const std::string& reason) { on_stdio_finished(reason); });
        events_.emit("stream_open", {{"peer", endpoint_.session(channel.cid())->peer().to_string()},
                                     {"stream", static_cast<std::int64_t>(*channel.stream())}});
        channel.reply_and_bridge(std::make_unique<io::StdioDuplex>(loop_), leftover);
      }
      return;
    case wire::StreamKind::kConnect:
      serve_connect(channel, request, leftover);
      return;
    case wire::StreamKind::kRemoteBind:
      serve_remote_bind(channel, request);
      return;
    case wire::StreamKind::kRemoteConnection:
      serve_remote_connection(channel, request, leftover);
      return;
  }
}

void Forwarder::serve_connect(Channel& channel, const wire::StreamRequest& request,
                              util::ByteView leftover) {
  const std::string target = forward::format_host_port(request.host, request.port);
  const std::string peer = endpoint_.session(channel.cid())->peer().to_string();
  if (!options_.policy.permits_open(request.host, request.port)) {
    const std::string reason = target + " is not permitted by the listener (--permit-open)";
    util::log_warn("refused " + peer + ": " + reason);
    events_.emit("forward_refused", {{"peer", peer}, {"target", target}, {"reason", reason}});
    channel.refuse(wire::StreamStatus::kNotAllowed, reason);
    return;
  }
  util::log_debug(peer + " opens " + target);
  channel.connect_and_bridge(request.host, request.port, leftover);
}

void Forwarder::serve_remote_bind(Channel& channel, const wire::StreamRequest& request) {
  const std::uint64_t cid = channel.cid();
  const std::string peer = endpoint_.session(cid)->peer().to_string();
  auto refuse = [&](wire::StreamStatus status, const std::string& reason) {
    util::log_warn("refused -R of " + peer + ": " + reason);
    events_.emit("forward_refused", {{"peer", peer}, {"reason", reason}});
    channel.refuse(status, reason);
  };
  if (auto allowed = options_.policy.permits_bind(request.host); !allowed) {
    refuse(wire::StreamStatus::kNotAllowed, allowed.error().message);
    return;
  }
  auto address = bind_address(request.host, request.port);
  if (!address) {
    refuse(wire::StreamStatus::kGeneralFailure, address.error().message);
    return;
  }
  auto listener = std::make_unique<io::TcpListener>(loop_);
  const std::uint64_t id = request.forward_id;
  auto status = listener->listen(
      *address, [this, cid, id](auto tcp) { accept_remote(std::move(tcp), cid, id); });
  if (!status) {
    refuse(wire::StreamStatus::kGeneralFailure, status.error().message);
    return;
  }
  const util::Address bound = listener->local_address();
  util::log_info("listening on " + bound.to_string() + " for " + peer + " (-R)");
  events_.emit("forward", {{"kind", "remote"}, {"peer", peer}, {"address", bound.to_string()}});
  channel.exempt_from_idle();  // the forward lasts as long as the session
  channel.hold_listener(std::move(listener), bound.port);
}

void Forwarder::accept_remote(std::unique_ptr<io::TcpConnection> tcp, std::uint64_t cid,
                              std::uint64_t forward_id) {
  transport::Connection* c = connection(cid);
  if (closed_ || c == nullptr) {
    tcp->close();
    return;
  }
  const std::string origin = tcp->peer_address().to_string();
  auto channel = std::make_unique<Channel>(owner(), cid, "-R from " + origin);
  channel->set_request(
      wire::StreamRequest{wire::StreamKind::kRemoteConnection, "", 0, forward_id, origin});
  channel->attach_local(std::move(tcp));
  Channel& added = add(std::move(channel));
  watch_deadline(added.deadline());
  route(added);
}

void Forwarder::serve_remote_connection(Channel& channel, const wire::StreamRequest& request,
                                        util::ByteView leftover) {
  if (request.forward_id >= options_.remote.size()) {
    channel.refuse(wire::StreamStatus::kGeneralFailure, "no such -R forward");
    return;
  }
  const forward::ForwardSpec& f = options_.remote[request.forward_id];
  util::log_debug("-R connection from " + request.origin + " -> " +
                  forward::format_host_port(f.host, f.host_port));
  channel.connect_and_bridge(f.host, f.host_port, leftover);
}

void Forwarder::on_stdio_finished(const std::string& reason) {
  if (stdio_finished_) stdio_finished_(reason);
}

void Forwarder::on_session_down(std::uint64_t cid, const std::string& reason, bool clean) {
  for (const auto& channel : channels_) {
    if (channel->cid() == cid && !channel->done()) channel->on_session_down(reason, clean);
  }
}

void Forwarder::poll() {
  // Only channels waiting for the acknowledgement of their FIN can complete
  // here; with a thousand forwards open, visiting all of them every loop
  // iteration cost a fifth of the CPU.
  std::vector<Channel*> still;
  for (Channel* channel : finishing_) {
    if (channel->done()) continue;
    channel->poll();
    if (!channel->done() && channel->awaiting_ack()) still.push_back(channel);
  }
  finishing_.swap(still);
  open_credit_waiters();
  if (!sweep_) return;
  sweep_ = false;
  // Forget finished channels; their callbacks have all returned by now.
  std::erase_if(finishing_, [](const Channel* c) { return c->done(); });
  std::erase_if(credit_waiters_, [](const Channel* c) { return c->done(); });
  for (auto it = by_stream_.begin(); it != by_stream_.end();) {
    it = it->second->done() ? by_stream_.erase(it) : std::next(it);
  }
  std::erase_if(channels_, [](const std::unique_ptr<Channel>& c) { return c->done(); });
}

bool Forwarder::has_channels(std::uint64_t cid) const {
  return std::any_of(channels_.begin(), channels_.end(),
                     [cid](const auto& c) { return c->cid() == cid && !c->done(); });
}

void Forwarder::close() {
  if (closed_) return;
  closed_ = true;
  deadline_timer_.close();
  for (const auto& listener : local_listeners_) listener->close();
  for (const auto& channel : channels_) channel->shutdown();
}

}  // namespace punch::app
