#include "io/stdio_duplex.hpp"

namespace punch::io {

static_assert(OutputStream::kHighWater == Duplex::kHighWater,
              "StdioDuplex passes OutputStream's back-pressure through unchanged");

StdioDuplex::StdioDuplex(uv_loop_t* loop, int in_fd, int out_fd)
    : in_(loop, in_fd), out_(loop, out_fd) {}

StdioDuplex::~StdioDuplex() { close(); }

void StdioDuplex::start(DataFn on_data, EndFn on_end) {
  if (closed_) return;
  in_.start(std::move(on_data), std::move(on_end));
}

void StdioDuplex::pause() { in_.pause(); }

void StdioDuplex::resume() {
  if (!closed_) in_.resume();
}

void StdioDuplex::write(util::ByteView data) {
  if (!closed_) out_.write(data);
}

std::size_t StdioDuplex::queued() const { return closed_ ? 0 : out_.queued(); }

void StdioDuplex::on_drain(DrainFn fn) { out_.on_drain(std::move(fn)); }

void StdioDuplex::finish(DoneFn done) {
  if (closed_) return;
  out_.finish(std::move(done));
}

void StdioDuplex::abort() { close(); }

void StdioDuplex::close() {
  if (closed_) return;
  closed_ = true;
  in_.close();
  out_.close();
}

}  // namespace punch::io
