#include "io/tcp_listener.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "io/sockaddr.hpp"
#include "io/tcp_connection.hpp"
#include "unit/io/test_loop.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"

using punch::io::ConnectError;
using punch::io::TcpConnection;
using punch::io::TcpListener;
using punch::test::TestLoop;
namespace util = punch::util;

namespace {

using punch::test::kLoopback;

// A plain blocking client socket: the kernel completes the handshake from the
// listen queue, so it connects without the loop running.
int raw_connect(const util::Address& to) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(to.port);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
  return fd;
}

}  // namespace

TEST_CASE("TcpListener listens on a kernel-picked port and hands over connections") {
  TestLoop loop;
  {
    TcpListener listener(loop.get());
    CHECK(listener.local_address() == util::Address{});
    std::vector<std::unique_ptr<TcpConnection>> accepted;
    REQUIRE(listener
                .listen(kLoopback,
                        [&](std::unique_ptr<TcpConnection> c) { accepted.push_back(std::move(c)); })
                .ok());
    const util::Address local = listener.local_address();
    CHECK(local.ip_string() == "127.0.0.1");
    CHECK(local.port != 0);

    TcpConnection client(loop.get());
    int connected = 0;
    client.connect("127.0.0.1", local.port, [&](ConnectError e, const std::string&) {
      CHECK(e == ConnectError::kNone);
      ++connected;
    });
    REQUIRE(loop.run_until([&] { return connected > 0 && !accepted.empty(); }));
    CHECK(accepted.size() == 1);
    CHECK(accepted.front()->peer_address() == client.local_address());
    CHECK(accepted.front()->local_address() == local);

    // TCP_NODELAY is set on accepted sockets, for interactive traffic; the
    // accepted socket is found among the process's fds by its peer address.
    const int raw = raw_connect(local);
    REQUIRE(loop.run_until([&] { return accepted.size() == 2; }));
    int fd = -1;
    for (int candidate = 3; candidate < raw + 64; ++candidate) {
      sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      if (::getpeername(candidate, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) continue;
      if (punch::io::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)) ==
              accepted.back()->peer_address() &&
          punch::io::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)) != listener.local_address()) {
        fd = candidate;
        break;
      }
    }
    REQUIRE(fd >= 0);
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    REQUIRE(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0);
    CHECK(nodelay != 0);
    ::close(raw);
  }
  CHECK(loop.close() == 0);
}

TEST_CASE("TcpListener names the address when it cannot listen") {
  TestLoop loop;
  {
    TcpListener first(loop.get());
    REQUIRE(first.listen(kLoopback, [](std::unique_ptr<TcpConnection>) {}).ok());
    const util::Address taken = first.local_address();
    TcpListener second(loop.get());
    const util::Status s = second.listen(taken, [](std::unique_ptr<TcpConnection>) {});
    REQUIRE(!s.ok());
    CHECK(s.error().message ==
          "cannot listen on " + taken.to_string() + ": address already in use");
    CHECK(second.local_address() == util::Address{});
    second.close();  // harmless after a failed listen()
    const util::Status empty =
        second.listen(util::Address{}, [](std::unique_ptr<TcpConnection>) {});
    REQUIRE(!empty.ok());
    CHECK(empty.error().message == "cannot listen on an empty address");

    // Once the first listener is gone the address is free again (SO_REUSEADDR).
    first.close();
    first.close();  // idempotent
    CHECK(first.local_address() == util::Address{});
    CHECK(second.listen(taken, [](std::unique_ptr<TcpConnection>) {}).ok());
  }
  CHECK(loop.close() == 0);
}

TEST_CASE("TcpListener on ::1 is v6-only, separate from 127.0.0.1 on the same port") {
  TestLoop loop;
  {
    TcpListener v6(loop.get());
    const util::Status s =
        v6.listen(*util::Address::from_ip("::1", 0), [](std::unique_ptr<TcpConnection>) {});
    if (!s.ok()) {
      MESSAGE("IPv6 loopback unavailable, skipped: " << s.error().message);
    } else {
      const std::uint16_t port = v6.local_address().port;
      CHECK(v6.local_address().to_string() == "[::1]:" + std::to_string(port));
      TcpListener v4(loop.get());
      CHECK(v4.listen(util::Address::v4(127, 0, 0, 1, port), [](std::unique_ptr<TcpConnection>) {
              }).ok());
    }
  }
  CHECK(loop.close() == 0);
}

TEST_CASE("TcpListener accepts nothing after close()") {
  TestLoop loop;
  {
    int accepted = 0;
    auto listener = std::make_unique<TcpListener>(loop.get());
    REQUIRE(listener->listen(kLoopback, [&](std::unique_ptr<TcpConnection>) { ++accepted; }).ok());
    const std::uint16_t port = listener->local_address().port;
    SUBCASE("closed") { listener->close(); }
    SUBCASE("destroyed") { listener.reset(); }
    TcpConnection client(loop.get());
    ConnectError error = ConnectError::kNone;
    bool done = false;
    client.connect("127.0.0.1", port, [&](ConnectError e, const std::string&) {
      error = e;
      done = true;
    });
    REQUIRE(loop.run_until([&] { return done; }));
    CHECK(error == ConnectError::kRefused);
    CHECK(accepted == 0);
  }
  CHECK(loop.close() == 0);
}

TEST_CASE("TcpListener survives running out of file descriptors") {
  TestLoop loop;
  {
    std::vector<std::unique_ptr<TcpConnection>> accepted;
    TcpListener listener(loop.get());
    REQUIRE(listener
                .listen(kLoopback,
                        [&](std::unique_ptr<TcpConnection> c) { accepted.push_back(std::move(c)); })
                .ok());
    const util::Address local = listener.local_address();
    const int victim = raw_connect(local);  // waits in the listen queue

    // Use up every descriptor below a lowered limit, so accept() fails with EMFILE.
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    std::vector<int> hogs;
    {
      const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      REQUIRE(probe >= 0);
      rlimit low = saved;
      low.rlim_cur = static_cast<rlim_t>(probe + 16);
      ::close(probe);
      REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
      for (;;) {
        const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        hogs.push_back(fd);
      }
    }
    // libuv accepts and drops the connection with its reserved descriptor, and
    // the listener logs and carries on: the victim sees its connection closed.
    char byte;
    const bool dropped = loop.run_until([&] {
      const ssize_t n = ::recv(victim, &byte, 1, MSG_DONTWAIT);
      return n == 0 || (n < 0 && errno != EAGAIN);
    });
    for (const int fd : hogs) ::close(fd);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
    CHECK(dropped);
    CHECK(accepted.empty());
    ::close(victim);

    // With descriptors back, the same listener accepts again.
    const int next = raw_connect(local);
    REQUIRE(loop.run_until([&] { return accepted.size() == 1; }));
    ::close(next);
  }
  CHECK(loop.close() == 0);
}
