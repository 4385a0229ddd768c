#include "io/stdio_duplex.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <string>

#include "unit/io/test_loop.hpp"
#include "util/bytes.hpp"

using punch::io::Duplex;
using punch::io::StdioDuplex;
using punch::test::TestLoop;
using punch::test::text_of;
namespace util = punch::util;

namespace {

using punch::test::close_if_open;
using punch::test::Pipe;
using punch::test::write_all;

}  // namespace

TEST_CASE("StdioDuplex reads its input and writes its output, then half-closes") {
  TestLoop loop;
  Pipe in;
  Pipe out;
  REQUIRE(::fcntl(out.r(), F_SETFL, O_NONBLOCK) == 0);
  {
    StdioDuplex duplex(loop.get(), in.r(), out.w());
    Duplex& d = duplex;  // used through the interface, as the app does
    std::string got;
    int ends = 0;
    std::string end_error = "unset";
    d.start([&](util::ByteView v) { got += text_of(v); },
            [&](const std::string& e) {
              ++ends;
              end_error = e;
            });
    write_all(in.w(), "from stdin");
    ::close(in.w());
    REQUIRE(loop.run_until([&] { return ends > 0; }));
    CHECK(got == "from stdin");
    CHECK(end_error.empty());

    // The output direction still works after input ended.
    d.write(util::as_bytes("to stdout"));
    int dones = 0;
    std::string done_error = "unset";
    d.finish([&](const std::string& e) {
      ++dones;
      done_error = e;
    });
    d.write(util::as_bytes("ignored"));
    REQUIRE(loop.run_until([&] { return dones > 0; }));
    CHECK(done_error.empty());
    CHECK(d.queued() == 0);
    char buf[64];
    const ssize_t n = ::read(out.r(), buf, sizeof buf);
    REQUIRE(n == 9);
    CHECK(std::string(buf, 9) == "to stdout");
    CHECK(::read(out.r(), buf, sizeof buf) == 0);  // EOF: finish() closed the output
  }
  close_if_open(in.r());
  close_if_open(out.w());
  ::close(out.r());
  CHECK(loop.close() == 0);
}

TEST_CASE("StdioDuplex pause() stops input until resume()") {
  TestLoop loop;
  Pipe in;
  Pipe out;
  {
    StdioDuplex d(loop.get(), in.r(), out.w());
    std::string got;
    d.start([&](util::ByteView v) { got += text_of(v); }, [](const std::string&) {});
    d.pause();
    write_all(in.w(), "held");
    loop.run_for(std::chrono::milliseconds(20));
    CHECK(got.empty());
    d.resume();
    REQUIRE(loop.run_until([&] { return got == "held"; }));
  }
  close_if_open(in.r());
  ::close(in.w());
  close_if_open(out.w());
  ::close(out.r());
  CHECK(loop.close() == 0);
}

TEST_CASE("StdioDuplex close() and abort() release both fds with no callback afterwards") {
  TestLoop loop;
  Pipe in;
  Pipe out;
  REQUIRE(::fcntl(out.r(), F_SETFL, O_NONBLOCK) == 0);
  {
    StdioDuplex d(loop.get(), in.r(), out.w());
    int calls = 0;
    d.start([&](util::ByteView) { ++calls; }, [&](const std::string&) { ++calls; });
    d.write(util::as_bytes("maybe"));
    SUBCASE("close") {
      d.close();
      d.close();  // idempotent
    }
    SUBCASE("abort") { d.abort(); }
    d.write(util::as_bytes("ignored"));
    d.finish([&](const std::string&) { ++calls; });
    CHECK(d.queued() == 0);
    ::close(in.w());
    loop.run_for(std::chrono::milliseconds(20));
    CHECK(calls == 0);
    // libuv closed the output pipe's fd: its reader sees EOF after what was written.
    char buf[64];
    ssize_t n = ::read(out.r(), buf, sizeof buf);
    if (n > 0) n = ::read(out.r(), buf, sizeof buf);
    CHECK(n == 0);
  }
  close_if_open(in.r());
  close_if_open(out.w());
  ::close(out.r());
  CHECK(loop.close() == 0);
}
