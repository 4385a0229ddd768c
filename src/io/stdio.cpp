#include "io/stdio.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <set>

#include "io/handle.hpp"
#include "util/assert.hpp"

namespace punch::io {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

// Opens a stream handle for fd when libuv can poll it; null for files and
// character devices such as /dev/null, which are read and written through uv_fs.
uv_stream_t* open_stream(uv_loop_t* loop, int fd, uv_handle_type type, bool readable) {
  switch (type) {
    case UV_TTY: {
      auto* tty = new uv_tty_t;
      if (uv_tty_init(loop, tty, fd, readable ? 1 : 0) == 0)
        return reinterpret_cast<uv_stream_t*>(tty);
      delete tty;
      return nullptr;
    }
    case UV_NAMED_PIPE: {
      auto* pipe = new uv_pipe_t;
      PUNCH_ASSERT(uv_pipe_init(loop, pipe, 0) == 0);
      if (uv_pipe_open(pipe, fd) == 0) return reinterpret_cast<uv_stream_t*>(pipe);
      close_and_delete(pipe);
      return nullptr;
    }
    case UV_TCP: {
      auto* tcp = new uv_tcp_t;
      PUNCH_ASSERT(uv_tcp_init(loop, tcp) == 0);
      if (uv_tcp_open(tcp, fd) == 0) return reinterpret_cast<uv_stream_t*>(tcp);
      close_and_delete(tcp);
      return nullptr;
    }
    default:
      return nullptr;
  }
}

// Drops our reference to what `fd` points at, so the reader sees EOF. libuv never
// closes fds 0-2 itself, and a plain close() would let the next open() reuse the
// number as "stdout"; /dev/null keeps the slot taken.
void release_fd(int fd) {
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd >= 0) {
    ::dup2(null_fd, fd);
    ::close(null_fd);
  } else {
    ::close(fd);
  }
}

// Closes a stream handle and frees it as the type it was allocated as (a tty,
// pipe or TCP handle); deleting through uv_stream_t* would be undefined.
void close_stream(uv_stream_t* stream) {
  switch (stream->type) {
    case UV_TTY:
      close_and_delete(reinterpret_cast<uv_tty_t*>(stream));
      break;
    case UV_NAMED_PIPE:
      close_and_delete(reinterpret_cast<uv_pipe_t*>(stream));
      break;
    case UV_TCP:
      close_and_delete(reinterpret_cast<uv_tcp_t*>(stream));
      break;
    default:
      PUNCH_ASSERT(false && "stdio stream of unexpected type");
  }
}

struct FileRead {
  uv_fs_t req{};
  util::Bytes buf;
  InputStream* owner = nullptr;
};

}  // namespace

// ---- InputStream -----------------------------------------------------------

InputStream::InputStream(uv_loop_t* loop, int fd)
    : loop_(loop), fd_(fd), type_(uv_guess_handle(fd)) {
  stream_ = open_stream(loop, fd, type_, true);
  if (stream_) stream_->data = this;
}

InputStream::~InputStream() { close(); }

void InputStream::start(DataFn on_data, EndFn on_end) {
  on_data_ = std::move(on_data);
  on_end_ = std::move(on_end);
  resume();
}

void InputStream::pause() {
  paused_ = true;
  if (stream_ && reading_) {
    uv_read_stop(stream_);
    reading_ = false;
  }
}

void InputStream::resume() {
  paused_ = false;
  if (ended_) return;
  if (stream_) {
    if (reading_) return;
    reading_ = true;
    uv_read_start(
        stream_,
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* self = static_cast<InputStream*>(h->data);
          self->buffer_.resize(kReadChunk);
          buf->base = reinterpret_cast<char*>(self->buffer_.data());
          buf->len = self->buffer_.size();
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
          auto* self = static_cast<InputStream*>(s->data);
          if (nread > 0) {
            self->on_data_(util::ByteView(reinterpret_cast<const std::uint8_t*>(buf->base),
                                          static_cast<std::size_t>(nread)));
          } else if (nread == UV_EOF) {
            self->finish("");
          } else if (nread < 0) {
            self->finish(std::string("read error on input: ") +
                         uv_strerror(static_cast<int>(nread)));
          }
        });
    return;
  }
  read_file();
}

void InputStream::read_file() {
  if (reading_ || paused_ || ended_) return;
  reading_ = true;
  auto* r = new FileRead;
  r->owner = this;
  r->buf.resize(kReadChunk);
  r->req.data = r;
  file_req_ = &r->req;
  uv_buf_t buf =
      uv_buf_init(reinterpret_cast<char*>(r->buf.data()), static_cast<unsigned>(r->buf.size()));
  // Offset -1 reads at the current position, which also suits pipes and devices.
  const int rc = uv_fs_read(loop_, &r->req, fd_, &buf, 1, -1, [](uv_fs_t* req) {
    auto* fr = static_cast<FileRead*>(req->data);
    InputStream* self = fr->owner;
    const ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    if (self == nullptr) {
      delete fr;
      return;
    }
    self->file_req_ = nullptr;
    self->reading_ = false;
    if (n > 0) {
      self->on_data_(util::ByteView(fr->buf.data(), static_cast<std::size_t>(n)));
      delete fr;
      self->read_file();
    } else if (n == 0) {
      delete fr;
      self->finish("");
    } else {
      delete fr;
      self->finish(std::string("read error on input: ") + uv_strerror(static_cast<int>(n)));
    }
  });
  if (rc != 0) {
    delete r;
    file_req_ = nullptr;
    reading_ = false;
    finish(std::string("cannot read input: ") + uv_strerror(rc));
  }
}

void InputStream::finish(const std::string& error) {
  if (ended_) return;
  ended_ = true;
  if (stream_ && reading_) uv_read_stop(stream_);
  reading_ = false;
  if (on_end_) on_end_(error);
}

void InputStream::close() {
  ended_ = true;
  if (stream_) {
    close_stream(stream_);
    stream_ = nullptr;
  }
  if (file_req_) {
    static_cast<FileRead*>(file_req_->data)->owner = nullptr;  // its callback frees it
    file_req_ = nullptr;
  }
}

// ---- OutputStream ----------------------------------------------------------

namespace {
struct StreamWrite {
  uv_write_t req{};
  util::Bytes data;
  OutputStream* owner = nullptr;
};
struct FileWrite {
  uv_fs_t req{};
  util::Bytes data;
  OutputStream* owner = nullptr;
};
// Requests still in flight per stream, so close() can detach them.
std::set<StreamWrite*>& live_writes() {
  static std::set<StreamWrite*> s;
  return s;
}
}  // namespace

OutputStream::OutputStream(uv_loop_t* loop, int fd)
    : loop_(loop), fd_(fd), type_(uv_guess_handle(fd)) {
  stream_ = open_stream(loop, fd, type_, false);
  if (stream_) stream_->data = this;
}

OutputStream::~OutputStream() { close(); }

void OutputStream::write(util::ByteView data) {
  if (data.empty() || finishing_ || done_) return;
  queued_ += data.size();
  if (queued_ >= kHighWater) above_high_ = true;  // the producer stops at >=, so drain must fire
  if (stream_) {
    auto* w = new StreamWrite;
    w->owner = this;
    w->data.assign(data.begin(), data.end());
    w->req.data = w;
    live_writes().insert(w);
    uv_buf_t buf =
        uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
    const int rc = uv_write(&w->req, stream_, &buf, 1, [](uv_write_t* req, int status) {
      auto* sw = static_cast<StreamWrite*>(req->data);
      live_writes().erase(sw);
      OutputStream* self = sw->owner;
      const std::size_t n = sw->data.size();
      delete sw;
      if (self) self->on_written(n, status);
    });
    if (rc != 0) {
      live_writes().erase(w);
      delete w;
      on_written(data.size(), rc);
    }
    return;
  }
  file_queue_.emplace_back(data.begin(), data.end());
  write_file();
}

void OutputStream::write_file() {
  if (file_busy_ || file_queue_.empty()) return;
  file_busy_ = true;
  auto* w = new FileWrite;
  w->owner = this;
  w->data = std::move(file_queue_.front());
  file_queue_.pop_front();
  w->req.data = w;
  file_req_ = &w->req;
  uv_buf_t buf =
      uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
  const int rc = uv_fs_write(loop_, &w->req, fd_, &buf, 1, -1, [](uv_fs_t* req) {
    auto* fw = static_cast<FileWrite*>(req->data);
    OutputStream* self = fw->owner;
    const ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    if (self == nullptr) {
      delete fw;
      return;
    }
    self->file_req_ = nullptr;
    self->file_busy_ = false;
    const std::size_t want = fw->data.size();
    if (n >= 0 && static_cast<std::size_t>(n) < want) {
      // Short write: put the rest back at the front.
      self->file_queue_.emplace_front(fw->data.begin() + n, fw->data.end());
      self->queued_ -= static_cast<std::size_t>(n);
      delete fw;
      self->write_file();
      return;
    }
    delete fw;
    self->on_written(want, n < 0 ? static_cast<int>(n) : 0);
    self->write_file();
  });
  if (rc != 0) {
    const std::size_t n = w->data.size();
    delete w;
    file_req_ = nullptr;
    file_busy_ = false;
    on_written(n, rc);
  }
}

void OutputStream::on_written(std::size_t n, int status) {
  queued_ -= std::min(n, queued_);
  if (status != 0 && status != UV_ECANCELED && error_.empty()) {
    error_ = std::string("write error on output: ") + uv_strerror(status);
  }
  if (above_high_ && queued_ < kHighWater / 2) {
    above_high_ = false;
    if (on_drain_) on_drain_();
  }
  maybe_done();
}

void OutputStream::finish(DoneFn done) {
  finishing_ = true;
  on_done_ = std::move(done);
  maybe_done();
}

void OutputStream::maybe_done() {
  if (!finishing_ || done_) return;
  if (queued_ > 0 && error_.empty()) return;
  done_ = true;
  if (stream_) {
    close_stream(stream_);  // libuv closes the fd itself, except 0-2
    stream_ = nullptr;
    if (fd_ <= STDERR_FILENO) release_fd(fd_);
  } else if (fd_ <= STDERR_FILENO) {
    release_fd(fd_);
  } else {
    ::close(fd_);
  }
  if (on_done_) on_done_(error_);
}

void OutputStream::close() {
  if (stream_) {
    for (StreamWrite* w : live_writes())
      if (w->owner == this) w->owner = nullptr;
    close_stream(stream_);
    stream_ = nullptr;
  }
  if (file_req_) {
    static_cast<FileWrite*>(file_req_->data)->owner = nullptr;
    file_req_ = nullptr;
  }
  done_ = true;
}

}  // namespace punch::io
