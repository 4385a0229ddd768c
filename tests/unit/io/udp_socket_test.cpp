#include "io/udp_socket.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "io/handle.hpp"
#include "io/sockaddr.hpp"
#include "unit/io/test_loop.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"

using punch::io::UdpSocket;
namespace io = punch::io;
namespace util = punch::util;

namespace {

// Upper bound on loop iterations while waiting for loopback datagrams, which the
// kernel queues synchronously on send; a failing test stops here, not forever.
constexpr int kMaxSocketIterations = 1000;

struct UdpArrival {
  util::Address from;
  std::string data;
};

using punch::test::text_of;

// Runs `loop` without blocking until `done()` or the iteration bound.
template <typename Pred>
void run_sockets_until(uv_loop_t* loop, Pred done) {
  for (int i = 0; i < kMaxSocketIterations && !done(); ++i) uv_run(loop, UV_RUN_NOWAIT);
}

using punch::test::kLoopback;

using punch::test::kReceiveTimeoutMs;

struct TtlDatagram {
  std::string data;
  int ttl = -1;  // -1: no TTL control message arrived
};

// A plain socket that reports each datagram's received IP TTL (IPv6 hop limit),
// which UdpSocket cannot show since it never asks for it.
class TtlReceiver {
 public:
  // Binds to `ip` port 0; check ok() (false when the family or address is unavailable).
  explicit TtlReceiver(const util::Address& ip) : v6_(ip.family == 6) {
    fd_ = ::socket(v6_ ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
    if (fd_ < 0) return;
    sockaddr_storage ss;
    const socklen_t len = io::to_sockaddr(ip, ss);
    const int on = 1;
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&ss), len) != 0 ||
        ::setsockopt(fd_, v6_ ? IPPROTO_IPV6 : IPPROTO_IP, v6_ ? IPV6_RECVHOPLIMIT : IP_RECVTTL,
                     &on, sizeof on) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~TtlReceiver() {
    if (fd_ >= 0) ::close(fd_);
  }
  TtlReceiver(const TtlReceiver&) = delete;
  TtlReceiver& operator=(const TtlReceiver&) = delete;

  bool ok() const { return fd_ >= 0; }

  util::Address address() const {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    return io::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
  }

  // The TTL a datagram gets when its sender sets none: the kernel's default.
  int default_ttl() const {
    int ttl = -1;
    socklen_t len = sizeof ttl;
    ::getsockopt(fd_, v6_ ? IPPROTO_IPV6 : IPPROTO_IP, v6_ ? IPV6_UNICAST_HOPS : IP_TTL, &ttl,
                 &len);
    return ttl;
  }

  // The next datagram, or nullopt if none arrives within kReceiveTimeoutMs.
  std::optional<TtlDatagram> receive() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, kReceiveTimeoutMs) != 1) return std::nullopt;
    char buf[2048];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int)) * 2];
    iovec iov{buf, sizeof buf};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd_, &m, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    TtlDatagram d;
    d.data.assign(buf, static_cast<std::size_t>(n));
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
      if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
        std::memcpy(&d.ttl, CMSG_DATA(c), sizeof d.ttl);
      }
    }
    return d;
  }

 private:
  bool v6_;
  int fd_ = -1;
};

// Sends one datagram with TTL 2 and one without from a UdpSocket bound to `local`
// to `to` (where `rx` listens) and checks what `rx` saw.
void check_ttl_per_datagram(uv_loop_t* loop, const util::Address& local, TtlReceiver& rx,
                            const util::Address& to) {
  UdpSocket a(loop);
  REQUIRE(a.bind(local, [](const util::Address&, util::ByteView) {}).ok());
  a.send_with_ttl(to, util::as_bytes("primed"), 2);
  a.send(to, util::as_bytes("plain"));
  a.flush();
  const auto first = rx.receive();
  const auto second = rx.receive();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->data == "primed");
  CHECK(first->ttl == 2);
  CHECK(second->data == "plain");
  CHECK(second->ttl == rx.default_ttl());
  CHECK(second->ttl != 2);
  CHECK(a.stats().sent == 2);
  CHECK(a.stats().send_errors == 0);
}

}  // namespace

TEST_CASE("UdpSocket binds to a kernel-picked port on loopback") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    UdpSocket s(&loop);
    REQUIRE(s.bind(kLoopback, [](const util::Address&, util::ByteView) {}).ok());
    const util::Address local = s.local_address();
    CHECK(local.family == 4);
    CHECK(local.ip_string() == "127.0.0.1");
    CHECK(local.port != 0);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("UdpSocket delivers datagrams both ways with source address and bytes") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    std::vector<UdpArrival> at_a;
    std::vector<UdpArrival> at_b;
    UdpSocket a(&loop);
    UdpSocket b(&loop);
    REQUIRE(a.bind(kLoopback, [&](const util::Address& from, util::ByteView data) {
               at_a.push_back({from, text_of(data)});
             }).ok());
    REQUIRE(b.bind(kLoopback, [&](const util::Address& from, util::ByteView data) {
               at_b.push_back({from, text_of(data)});
             }).ok());
    const util::Address addr_a = a.local_address();
    const util::Address addr_b = b.local_address();
    REQUIRE(addr_a.port != addr_b.port);

    // Includes a datagram of 1200 bytes (the protocol's size) with every byte value.
    std::string big(1200, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i % 256);
    const std::vector<std::string> a_to_b = {"first", "second", big};
    const std::vector<std::string> b_to_a = {"reply 1", "reply 2"};
    for (const auto& d : a_to_b) a.send(addr_b, util::as_bytes(d));
    for (const auto& d : b_to_a) b.send(addr_a, util::as_bytes(d));

    run_sockets_until(&loop,
                      [&] { return at_a.size() >= b_to_a.size() && at_b.size() >= a_to_b.size(); });

    REQUIRE(at_b.size() == a_to_b.size());
    REQUIRE(at_a.size() == b_to_a.size());
    for (std::size_t i = 0; i < a_to_b.size(); ++i) {
      CHECK(at_b[i].from == addr_a);
      CHECK(at_b[i].data == a_to_b[i]);
    }
    for (std::size_t i = 0; i < b_to_a.size(); ++i) {
      CHECK(at_a[i].from == addr_b);
      CHECK(at_a[i].data == b_to_a[i]);
    }
    CHECK(a.stats().sent == a_to_b.size());
    CHECK(b.stats().sent == b_to_a.size());
    CHECK(a.stats().received == b_to_a.size());
    CHECK(b.stats().received == a_to_b.size());
    CHECK(a.stats().send_errors == 0);
    CHECK(a.stats().dropped_full == 0);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("UdpSocket bind to an address in use fails with a message") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    UdpSocket first(&loop);
    REQUIRE(first.bind(kLoopback, [](const util::Address&, util::ByteView) {}).ok());
    const util::Address taken = first.local_address();

    UdpSocket second(&loop);
    const auto status = second.bind(taken, [](const util::Address&, util::ByteView) {});
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().message.find("cannot bind UDP") != std::string::npos);
    CHECK(status.error().message.find(taken.to_string()) != std::string::npos);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("UdpSocket stops receiving after close and ignores later sends") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    int at_b = 0;
    UdpSocket a(&loop);
    UdpSocket b(&loop);
    REQUIRE(a.bind(kLoopback, [](const util::Address&, util::ByteView) {}).ok());
    REQUIRE(b.bind(kLoopback, [&](const util::Address&, util::ByteView) { ++at_b; }).ok());
    const util::Address addr_b = b.local_address();

    a.send(addr_b, util::as_bytes("before"));
    run_sockets_until(&loop, [&] { return at_b == 1; });
    REQUIRE(at_b == 1);

    b.close();
    a.send(addr_b, util::as_bytes("after b closed"));
    a.close();
    a.send(addr_b, util::as_bytes("after a closed"));  // must be a no-op, not a crash
    // With both handles closed nothing is active, so the loop runs out.
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
    CHECK(at_b == 1);
    CHECK(a.stats().sent == 2);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("UdpSocket batches a burst into few system calls, in order and intact") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    std::vector<std::string> at_b;
    std::vector<std::string> at_c;
    UdpSocket a(&loop);
    UdpSocket b(&loop);
    UdpSocket c(&loop);
    REQUIRE(a.bind(kLoopback, [](const util::Address&, util::ByteView) {}).ok());
    REQUIRE(b.bind(kLoopback, [&](const util::Address&, util::ByteView d) {
               at_b.push_back(text_of(d));
             }).ok());
    REQUIRE(c.bind(kLoopback, [&](const util::Address&, util::ByteView d) {
               at_c.push_back(text_of(d));
             }).ok());
    // Runs of equal sizes (GSO candidates), a shorter datagram ending a run, and
    // a second destination interleaved, so grouping must split where they change.
    std::vector<std::string> to_b;
    std::vector<std::string> to_c;
    for (int i = 0; i < 300; ++i) {
      std::string d(i % 97 == 96 ? 300 : 1200, static_cast<char>('a' + i % 26));
      d.replace(0, std::to_string(i).size(), std::to_string(i));
      if (i % 50 == 49) {
        to_c.push_back(d);
        a.send(c.local_address(), util::as_bytes(to_c.back()));
      } else {
        to_b.push_back(d);
        a.send(b.local_address(), util::as_bytes(to_b.back()));
      }
    }
    run_sockets_until(&loop,
                      [&] { return at_b.size() >= to_b.size() && at_c.size() >= to_c.size(); });
    CHECK(at_b == to_b);
    CHECK(at_c == to_c);
    CHECK(a.stats().sent == 300);
    CHECK(a.stats().send_errors == 0);
    // 300 datagrams (360 kB: within a default receive buffer) go in batches of
    // 32, about 10 calls; one per datagram would be 300.
    CHECK(a.stats().send_calls >= 2);
    CHECK(a.stats().send_calls <= 20);
    MESSAGE("300 datagrams in " << a.stats().send_calls << " sendmmsg calls");
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("UdpSocket with lean buffers receives bursts intact before and after it grows") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    std::vector<std::string> at_b;
    UdpSocket a(&loop);
    UdpSocket b(&loop);
    REQUIRE(a.bind(kLoopback, [](const util::Address&, util::ByteView) {}).ok());
    REQUIRE(b.bind(
                 kLoopback,
                 [&](const util::Address&, util::ByteView d) { at_b.push_back(text_of(d)); },
                 io::UdpBuffers::kLean)
                .ok());
    // 150 datagrams: the first 64 through one receive chunk, the rest after the
    // socket counts as busy and takes 16 chunks per recvmmsg.
    std::vector<std::string> sent;
    for (int i = 0; i < 150; ++i) {
      sent.push_back(std::to_string(i) + std::string(1000, static_cast<char>('a' + i % 26)));
      a.send(b.local_address(), util::as_bytes(sent.back()));
      if (i % 30 == 29)
        run_sockets_until(&loop, [&] { return at_b.size() > static_cast<std::size_t>(i); });
    }
    run_sockets_until(&loop, [&] { return at_b.size() >= sent.size(); });
    CHECK(at_b == sent);
    CHECK(b.stats().received == 150);
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("UdpSocket carries MTU probe sizes intact and drops an oversize datagram alone") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    std::vector<std::string> at_b;
    UdpSocket a(&loop);
    UdpSocket b(&loop);
    REQUIRE(a.bind(kLoopback, [](const util::Address&, util::ByteView) {}).ok());
    REQUIRE(b.bind(kLoopback, [&](const util::Address&, util::ByteView data) {
               at_b.push_back(text_of(data));
             }).ok());
    // A probe followed by smaller packets (the probe heads a GSO run), the probe sizes,
    // and one datagram above what UDP can carry at all (EMSGSIZE), which must cost
    // only itself.
    std::vector<std::string> sent;
    for (const std::size_t size : {16384, 1200, 1200, 1452, 8952, 8952, 70000, 1200}) {
      std::string d(size, '\0');
      for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<char>((i * 7 + size) % 251);
      a.send(b.local_address(), util::as_bytes(d));
      if (size <= 65507) sent.push_back(d);
    }
    a.flush();
    run_sockets_until(&loop, [&] { return at_b.size() >= sent.size(); });
    REQUIRE(at_b.size() == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) CHECK(at_b[i] == sent[i]);
    CHECK(a.stats().send_errors == 1);
    CHECK(a.stats().sent == sent.size());
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("UdpSocket send_with_ttl sets the TTL of that datagram only") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  SUBCASE("IPv4: IP_TTL") {
    TtlReceiver rx(kLoopback);
    REQUIRE(rx.ok());
    check_ttl_per_datagram(&loop, kLoopback, rx, rx.address());
  }
  SUBCASE("IPv6: hop limit") {
    const util::Address v6_loopback = *util::Address::from_ip("::1", 0);
    TtlReceiver rx(v6_loopback);
    if (rx.ok()) {
      check_ttl_per_datagram(&loop, v6_loopback, rx, rx.address());
    } else {
      MESSAGE("::1 is not available here; IPv6 hop limit not tested");
    }
  }
  // IPv4 leaves a dual-stack socket as IPv4, where a hop limit would be ignored.
  SUBCASE("dual-stack IPv6 socket to IPv4 and IPv4-mapped addresses: IP_TTL") {
    const util::Address v6_any = *util::Address::from_ip("::", 0);
    if (TtlReceiver(*util::Address::from_ip("::1", 0)).ok()) {
      TtlReceiver rx(kLoopback);
      REQUIRE(rx.ok());
      check_ttl_per_datagram(&loop, v6_any, rx, rx.address());
      util::Address mapped = *util::Address::from_ip("::ffff:127.0.0.1", rx.address().port);
      check_ttl_per_datagram(&loop, v6_any, rx, mapped);
    } else {
      MESSAGE("IPv6 is not available here; dual-stack TTL not tested");
    }
  }
  CHECK(io::close_loop(&loop) == 0);
}

TEST_CASE("UdpSocket sends a TTL datagram amid a GSO run on its own, in order") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    TtlReceiver rx(kLoopback);
    REQUIRE(rx.ok());
    UdpSocket a(&loop);
    REQUIRE(a.bind(kLoopback, [](const util::Address&, util::ByteView) {}).ok());
    // Twelve equal-size datagrams to one address would go as one GSO message; the
    // seventh carries TTL 2 and must neither pass it on nor take the run's default.
    constexpr int kCount = 12;
    constexpr int kPrimed = 6;
    std::vector<std::string> sent;
    for (int i = 0; i < kCount; ++i) {
      std::string d(1200, static_cast<char>('a' + i));
      d.replace(0, std::to_string(i).size(), std::to_string(i));
      sent.push_back(d);
      if (i == kPrimed) {
        a.send_with_ttl(rx.address(), util::as_bytes(sent.back()), 2);
      } else {
        a.send(rx.address(), util::as_bytes(sent.back()));
      }
    }
    a.flush();
    for (int i = 0; i < kCount; ++i) {
      CAPTURE(i);
      const auto d = rx.receive();
      REQUIRE(d);
      CHECK(d->data == sent[static_cast<std::size_t>(i)]);
      if (i == kPrimed) {
        CHECK(d->ttl == 2);
      } else {
        CHECK(d->ttl == rx.default_ttl());
        CHECK(d->ttl != 2);
      }
    }
    CHECK(a.stats().sent == kCount);
    CHECK(a.stats().send_errors == 0);
  }
  CHECK(io::close_loop(&loop) == 0);
}
