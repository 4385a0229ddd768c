#include "io/signals.hpp"

#include <csignal>

#include "io/handle.hpp"
#include "util/assert.hpp"

namespace punch::io {

Signals::Signals(uv_loop_t* loop, std::function<void(int)> fn)
    : int_(new uv_signal_t), term_(new uv_signal_t), fn_(std::move(fn)) {
  // A write to a peer that reset its TCP connection (or closed our stdout) must
  // fail that one stream with EPIPE, not kill the process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  for (uv_signal_t* s : {int_, term_}) {
    PUNCH_ASSERT(uv_signal_init(loop, s) == 0);
    s->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(s));  // never keeps the loop alive alone
  }
  auto cb = [](uv_signal_t* s, int signum) { static_cast<Signals*>(s->data)->fn_(signum); };
  uv_signal_start(int_, cb, SIGINT);
  uv_signal_start(term_, cb, SIGTERM);
}

Signals::~Signals() { close(); }

void Signals::close() {
  if (int_ == nullptr) return;
  close_and_delete(int_);
  close_and_delete(term_);
  int_ = nullptr;
  term_ = nullptr;
}

}  // namespace punch::io
