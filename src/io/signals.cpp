#include "io/signals.hpp"

#include <csignal>
#include <utility>

#include "io/handle.hpp"
#include "util/assert.hpp"

namespace punch::io {

bool Signals::hangup_ignored_at_start() {
  // Read once, before this class installs a handler of its own: nohup sets SIG_IGN and
  // means "survive the hangup", which watching SIGHUP would override.
  static const bool ignored = [] {
    struct sigaction current {};
    return ::sigaction(SIGHUP, nullptr, &current) == 0 && current.sa_handler == SIG_IGN;
  }();
  return ignored;
}

Signals::Signals(uv_loop_t* loop, std::function<void(int)> fn)
    : int_(new uv_signal_t),
      term_(new uv_signal_t),
      hup_(hangup_ignored_at_start() ? nullptr : new uv_signal_t),
      fn_(std::move(fn)) {
  // A write to a peer that reset its TCP connection (or closed our stdout) must
  // fail that one stream with EPIPE, not kill the process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  auto cb = [](uv_signal_t* s, int signum) { static_cast<Signals*>(s->data)->fn_(signum); };
  const std::pair<uv_signal_t*, int> watched[] = {{int_, SIGINT}, {term_, SIGTERM}, {hup_, SIGHUP}};
  for (const auto& [s, signum] : watched) {
    if (s == nullptr) continue;
    PUNCH_ASSERT(uv_signal_init(loop, s) == 0);
    s->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(s));  // never keeps the loop alive alone
    uv_signal_start(s, cb, signum);
  }
}

Signals::~Signals() { close(); }

void Signals::close() {
  if (int_ == nullptr) return;
  close_and_delete(int_);
  close_and_delete(term_);
  if (hup_ != nullptr) close_and_delete(hup_);
  int_ = nullptr;
  term_ = nullptr;
  hup_ = nullptr;
}

}  // namespace punch::io
