#include "io/stdio.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "io/handle.hpp"
#include "unit/io/test_loop.hpp"
#include "util/bytes.hpp"

using punch::io::InputStream;
using punch::io::OutputStream;
namespace io = punch::io;
namespace util = punch::util;

namespace {

// Upper bound on non-blocking loop iterations; a megabyte through a 64 KiB pipe
// takes a few dozen, so a failing test stops here instead of hanging.
constexpr int kMaxPipeIterations = 100000;

template <typename Pred>
void run_pipes_until(uv_loop_t* loop, Pred done) {
  for (int i = 0; i < kMaxPipeIterations && !done(); ++i) uv_run(loop, UV_RUN_NOWAIT);
}

struct SocketPair {
  SocketPair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0); }
  int fds[2] = {-1, -1};
};

// A temporary regular file, unlinked at scope exit.
struct TempFile {
  TempFile() {
    char tmpl[] = "/tmp/punch-stdio-test-XXXXXX";
    fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    path = tmpl;
  }
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    ::unlink(path.c_str());
  }
  int fd = -1;
  std::string path;
};

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

using punch::test::close_if_open;
using punch::test::Pipe;
using punch::test::write_all;

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    REQUIRE(n >= 0);
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

using punch::test::pattern_byte;

// punch::test::pattern as text: bytes that reveal reordering, loss or duplication.
std::string pattern_text(std::size_t offset, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(pattern_byte(offset + i));
  return s;
}

using punch::test::text_of;

// Collects what an InputStream delivers.
struct Sink {
  std::string data;
  int chunks = 0;
  int ends = 0;
  std::string error;
  InputStream::DataFn on_data() {
    return [this](util::ByteView v) {
      data += text_of(v);
      ++chunks;
    };
  }
  InputStream::EndFn on_end() {
    return [this](const std::string& e) {
      ++ends;
      error = e;
    };
  }
};

}  // namespace

// ---- InputStream -----------------------------------------------------------

TEST_CASE("InputStream reads a pipe in order, then reports EOF once") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  Pipe p;
  {
    Sink sink;
    InputStream in(&loop, p.r());
    write_all(p.w(), "hello ");
    write_all(p.w(), "world");
    ::close(p.w());
    in.start(sink.on_data(), sink.on_end());
    run_pipes_until(&loop, [&] { return sink.ends > 0; });
    CHECK(sink.data == "hello world");
    CHECK(sink.ends == 1);
    CHECK(sink.error.empty());

    // After the end nothing is active and resume() does not restart anything.
    in.resume();
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(sink.ends == 1);
  }
  close_if_open(p.r());
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("InputStream reads a regular file larger than one chunk, then EOF once") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  TempFile f;
  const std::string content = pattern_text(0, 200000);  // several 64 KiB reads
  write_all(f.fd, content);
  REQUIRE(::lseek(f.fd, 0, SEEK_SET) == 0);
  {
    Sink sink;
    InputStream in(&loop, f.fd);
    in.start(sink.on_data(), sink.on_end());
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(sink.data == content);
    CHECK(sink.chunks >= 4);
    CHECK(sink.ends == 1);
    CHECK(sink.error.empty());
    in.resume();
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(sink.ends == 1);
  }
  CHECK(is_open(f.fd));  // file reads go through uv_fs and leave the fd alone
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("InputStream reads an empty regular file as an immediate EOF") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  TempFile f;
  {
    Sink sink;
    InputStream in(&loop, f.fd);
    in.start(sink.on_data(), sink.on_end());
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(sink.chunks == 0);
    CHECK(sink.ends == 1);
    CHECK(sink.error.empty());
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("InputStream reads a socket until the peer shuts down its side") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  SocketPair sp;
  {
    Sink sink;
    InputStream in(&loop, sp.fds[0]);
    in.start(sink.on_data(), sink.on_end());
    write_all(sp.fds[1], "over a socket");
    run_pipes_until(&loop, [&] { return sink.data.size() >= 13; });
    CHECK(sink.data == "over a socket");
    CHECK(sink.ends == 0);
    REQUIRE(::shutdown(sp.fds[1], SHUT_WR) == 0);
    run_pipes_until(&loop, [&] { return sink.ends > 0; });
    CHECK(sink.ends == 1);
    CHECK(sink.error.empty());
  }
  close_if_open(sp.fds[0]);
  ::close(sp.fds[1]);
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("InputStream pause() stops delivery on a pipe and resume() restarts it") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  Pipe p;
  {
    Sink sink;
    InputStream in(&loop, p.r());

    SUBCASE("paused before any data") {
      in.start(sink.on_data(), sink.on_end());
      in.pause();
      write_all(p.w(), "waiting");
      // Paused, the pipe is not watched: the loop has nothing to do and ends.
      CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
      CHECK(sink.chunks == 0);
      in.resume();
      run_pipes_until(&loop, [&] { return sink.data.size() >= 7; });
      CHECK(sink.data == "waiting");
    }

    SUBCASE("paused from the data callback") {
      in.start(
          [&](util::ByteView v) {
            sink.data += text_of(v);
            ++sink.chunks;
            in.pause();
          },
          sink.on_end());
      write_all(p.w(), "one");
      run_pipes_until(&loop, [&] { return sink.chunks > 0; });
      CHECK(sink.data == "one");
      write_all(p.w(), "two");
      CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
      CHECK(sink.data == "one");
      in.resume();
      run_pipes_until(&loop, [&] { return sink.chunks > 1; });
      CHECK(sink.data == "onetwo");
    }

    // The end is reported after resuming, and only once.
    ::close(p.w());
    in.resume();
    run_pipes_until(&loop, [&] { return sink.ends > 0; });
    CHECK(sink.ends == 1);
    CHECK(sink.error.empty());
  }
  close_if_open(p.r());
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("InputStream pause() from the data callback stops delivery from a regular file") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  TempFile f;
  const std::string content = pattern_text(0, 3 * 65536 + 100);
  write_all(f.fd, content);
  REQUIRE(::lseek(f.fd, 0, SEEK_SET) == 0);
  {
    Sink sink;
    InputStream in(&loop, f.fd);
    in.start(
        [&](util::ByteView v) {
          sink.data += text_of(v);
          ++sink.chunks;
          in.pause();
        },
        sink.on_end());
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(sink.chunks == 1);
    CHECK(sink.ends == 0);
    const std::size_t first = sink.data.size();
    CHECK(first > 0);
    CHECK(first < content.size());

    in.resume();
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(sink.chunks == 2);
    CHECK(sink.data.size() > first);
    CHECK(sink.ends == 0);

    // Resume for good: everything arrives in order, then one EOF.
    in.start(sink.on_data(), sink.on_end());
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(sink.data == content);
    CHECK(sink.ends == 1);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("InputStream reports a read error through the end callback") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  TempFile f;
  const int write_only = ::open(f.path.c_str(), O_WRONLY | O_CLOEXEC);
  REQUIRE(write_only >= 0);
  {
    Sink sink;
    InputStream in(&loop, write_only);
    in.start(sink.on_data(), sink.on_end());
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(sink.chunks == 0);
    CHECK(sink.ends == 1);
    CHECK(sink.error.find("read error on input") != std::string::npos);
  }
  ::close(write_only);
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("InputStream closed with a file read in flight is safe") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  TempFile f;
  write_all(f.fd, "data");
  REQUIRE(::lseek(f.fd, 0, SEEK_SET) == 0);
  int calls = 0;
  {
    InputStream in(&loop, f.fd);
    in.start([&](util::ByteView) { ++calls; }, [&](const std::string&) { ++calls; });
  }  // destroyed with the read still queued; its callback must not touch it
  CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  CHECK(calls == 0);
  CHECK(io::close_loop(&loop) == 0);
}

// ---- OutputStream ----------------------------------------------------------

TEST_CASE("OutputStream writes everything in order to a pipe") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  Pipe p;
  {
    Sink sink;
    InputStream in(&loop, p.r());
    in.start(sink.on_data(), sink.on_end());
    OutputStream out(&loop, p.w());
    CHECK(out.queued() == 0);
    out.write(util::as_bytes("alpha "));
    out.write(util::ByteView{});  // empty writes are ignored
    out.write(util::as_bytes("beta "));
    out.write(util::as_bytes("gamma"));
    CHECK(out.queued() <= 16);
    run_pipes_until(&loop, [&] { return sink.data.size() >= 16 && out.queued() == 0; });
    CHECK(sink.data == "alpha beta gamma");
    CHECK(out.queued() == 0);
  }
  close_if_open(p.r());
  close_if_open(p.w());
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("OutputStream writes everything in order to a regular file") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  TempFile f;
  {
    OutputStream out(&loop, f.fd);
    std::string expected;
    for (int i = 0; i < 5; ++i) {
      const std::string chunk = pattern_text(expected.size(), 100000);
      out.write(util::as_bytes(chunk));
      expected += chunk;
    }
    // File writes go through the thread pool, so nothing is written yet.
    CHECK(out.queued() == expected.size());
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(out.queued() == 0);
    CHECK(read_file(f.path) == expected);

    int done = 0;
    std::string error = "unset";
    out.finish([&](const std::string& e) {
      ++done;
      error = e;
    });
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(done == 1);
    CHECK(error.empty());
    // finish() closed the file's fd (above 2, so no /dev/null stand-in).
    CHECK(::fcntl(f.fd, F_GETFD) == -1);
    f.fd = -1;  // already closed; TempFile must not close it again
    CHECK(read_file(f.path) == expected);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("OutputStream calls on_drain once after crossing the high-water mark") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  Pipe p;
  {
    constexpr std::size_t kChunk = 64 * 1024;
    const std::size_t total = OutputStream::kHighWater + 8 * kChunk;
    std::size_t received = 0;
    bool in_order = true;
    InputStream in(&loop, p.r());
    in.start(
        [&](util::ByteView v) {
          for (const std::uint8_t b : v) {
            if (received < total && b != pattern_byte(received)) in_order = false;
            ++received;
          }
        },
        [](const std::string&) {});

    OutputStream out(&loop, p.w());
    int drains = 0;
    std::size_t queued_at_drain = 0;
    out.on_drain([&] {
      ++drains;
      queued_at_drain = out.queued();
    });

    for (std::size_t sent = 0; sent < total; sent += kChunk)
      out.write(util::as_bytes(pattern_text(sent, kChunk)));
    // The producer sees the queue above the mark and would stop here.
    CHECK(out.queued() >= OutputStream::kHighWater);
    CHECK(drains == 0);

    run_pipes_until(&loop, [&] { return received >= total && out.queued() == 0; });
    CHECK(received == total);
    CHECK(in_order);
    CHECK(out.queued() == 0);
    CHECK(drains == 1);
    CHECK(queued_at_drain < OutputStream::kHighWater / 2);

    // Small writes afterwards stay below the mark and do not drain again.
    out.write(util::as_bytes("tail"));
    run_pipes_until(&loop, [&] { return received >= total + 4 && out.queued() == 0; });
    CHECK(received == total + 4);
    CHECK(drains == 1);
  }
  close_if_open(p.r());
  close_if_open(p.w());
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("OutputStream finish() lets the reader of a pipe see EOF") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  Pipe p;
  const int w = ::fcntl(p.w(), F_DUPFD_CLOEXEC, 3);  // the only write end left
  REQUIRE(w >= 0);
  ::close(p.w());
  REQUIRE(::fcntl(p.r(), F_SETFL, O_NONBLOCK) == 0);
  {
    OutputStream out(&loop, w);
    out.write(util::as_bytes("bye"));
    int done = 0;
    std::string error = "unset";
    out.finish([&](const std::string& e) {
      ++done;
      error = e;
    });
    out.write(util::as_bytes("ignored after finish"));
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(done == 1);
    CHECK(error.empty());
    CHECK(out.queued() == 0);

    char buf[64];
    const ssize_t n = ::read(p.r(), buf, sizeof buf);
    REQUIRE(n == 3);
    CHECK(std::string(buf, 3) == "bye");
    CHECK(::read(p.r(), buf, sizeof buf) == 0);  // EOF, not EAGAIN
  }
  close_if_open(w);
  ::close(p.r());
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("OutputStream finish() waits for queued bytes before the EOF") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  Pipe p;
  const int w = ::fcntl(p.w(), F_DUPFD_CLOEXEC, 3);
  REQUIRE(w >= 0);
  ::close(p.w());
  {
    Sink sink;
    InputStream in(&loop, p.r());
    in.start(sink.on_data(), sink.on_end());
    OutputStream out(&loop, w);
    const std::string content = pattern_text(0, 300000);  // more than the pipe holds
    out.write(util::as_bytes(content));
    int done = 0;
    out.finish([&](const std::string&) { ++done; });
    CHECK(done == 0);
    run_pipes_until(&loop, [&] { return sink.ends > 0; });
    CHECK(done == 1);
    CHECK(sink.ends == 1);
    CHECK(sink.error.empty());
    CHECK(sink.data == content);
  }
  close_if_open(w);
  close_if_open(p.r());
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("OutputStream finish() on a socket lets the peer see EOF") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  SocketPair sp;
  {
    OutputStream out(&loop, sp.fds[0]);
    out.write(util::as_bytes("to the peer"));
    int done = 0;
    out.finish([&](const std::string&) { ++done; });
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(done == 1);
    char buf[64];
    const ssize_t n = ::recv(sp.fds[1], buf, sizeof buf, MSG_DONTWAIT);
    REQUIRE(n == 11);
    CHECK(std::string(buf, 11) == "to the peer");
    CHECK(::recv(sp.fds[1], buf, sizeof buf, MSG_DONTWAIT) == 0);
  }
  close_if_open(sp.fds[0]);
  ::close(sp.fds[1]);
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("OutputStream finish() reports a write error") {
  // Writing to a pipe without readers raises SIGPIPE; ignore it for this case only.
  struct sigaction ignore {};
  struct sigaction saved {};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(::sigaction(SIGPIPE, &ignore, &saved) == 0);
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  Pipe p;
  ::close(p.r());
  {
    OutputStream out(&loop, p.w());
    out.write(util::as_bytes("nobody reads this"));
    int done = 0;
    std::string error;
    out.finish([&](const std::string& e) {
      ++done;
      error = e;
    });
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(done == 1);
    CHECK(error.find("write error on output") != std::string::npos);
  }
  close_if_open(p.w());
  CHECK(io::close_loop(&loop) == 0);
  REQUIRE(::sigaction(SIGPIPE, &saved, nullptr) == 0);
}

TEST_CASE("OutputStream finish() on fd 1 releases it so the reader sees EOF") {
  // fd 1 is special (libuv never closes it), but the test process's own stdout
  // must stay untouched: a child process puts a pipe on its fd 1 instead.
  Pipe data;
  Pipe control;
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::dup2(data.w(), 1) != 1) ::_exit(10);
    ::close(data.w());
    ::close(data.r());
    ::close(control.w());
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) ::_exit(11);
    bool ok = false;
    {
      OutputStream out(&loop, 1);
      out.write(util::as_bytes("from fd 1"));
      out.finish([&](const std::string& e) { ok = e.empty(); });
      uv_run(&loop, UV_RUN_DEFAULT);
    }
    if (io::close_loop(&loop) != 0) ::_exit(12);
    // Stay alive until the parent has seen EOF, so only finish() can have caused it.
    char c;
    while (::read(control.r(), &c, 1) < 0 && errno == EINTR) {
    }
    ::_exit(ok ? 0 : 13);
  }
  ::close(data.w());
  ::close(control.r());
  std::string got;
  bool eof = false;
  for (;;) {
    pollfd pfd{data.r(), POLLIN, 0};
    if (::poll(&pfd, 1, 10000) <= 0) break;  // bounded: a failure does not hang
    char buf[64];
    const ssize_t n = ::read(data.r(), buf, sizeof buf);
    if (n <= 0) {
      eof = n == 0;
      break;
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(control.w());  // lets the child exit
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(eof);
  CHECK(got == "from fd 1");
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  ::close(data.r());
}
