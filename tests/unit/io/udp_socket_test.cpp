#include "io/udp_socket.hpp"

#include <doctest/doctest.h>
#include <uv.h>

#include <string>
#include <vector>

#include "io/handle.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"

using punch::io::UdpSocket;
namespace io = punch::io;
namespace util = punch::util;

namespace {

// Upper bound on loop iterations while waiting for loopback datagrams, which the
// kernel queues synchronously on send; a failing test stops here, not forever.
constexpr int kMaxIterations = 1000;

struct Received {
  util::Address from;
  std::string data;
};

std::string text_of(util::ByteView v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

// Runs `loop` without blocking until `done()` or the iteration bound.
template <typename Pred>
void run_until(uv_loop_t* loop, Pred done) {
  for (int i = 0; i < kMaxIterations && !done(); ++i) uv_run(loop, UV_RUN_NOWAIT);
}

const util::Address kLoopbackAnyPort = util::Address::v4(127, 0, 0, 1, 0);

}  // namespace

TEST_CASE("UdpSocket binds to a kernel-picked port on loopback") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    UdpSocket s(&loop);
    REQUIRE(s.bind(kLoopbackAnyPort, [](const util::Address&, util::ByteView) {}).ok());
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
    std::vector<Received> at_a;
    std::vector<Received> at_b;
    UdpSocket a(&loop);
    UdpSocket b(&loop);
    REQUIRE(a.bind(kLoopbackAnyPort, [&](const util::Address& from, util::ByteView data) {
               at_a.push_back({from, text_of(data)});
             }).ok());
    REQUIRE(b.bind(kLoopbackAnyPort, [&](const util::Address& from, util::ByteView data) {
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

    run_until(&loop, [&] { return at_a.size() >= b_to_a.size() && at_b.size() >= a_to_b.size(); });

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
    REQUIRE(first.bind(kLoopbackAnyPort, [](const util::Address&, util::ByteView) {}).ok());
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
    REQUIRE(a.bind(kLoopbackAnyPort, [](const util::Address&, util::ByteView) {}).ok());
    REQUIRE(b.bind(kLoopbackAnyPort, [&](const util::Address&, util::ByteView) { ++at_b; }).ok());
    const util::Address addr_b = b.local_address();

    a.send(addr_b, util::as_bytes("before"));
    run_until(&loop, [&] { return at_b == 1; });
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
    REQUIRE(a.bind(kLoopbackAnyPort, [](const util::Address&, util::ByteView) {}).ok());
    REQUIRE(b.bind(kLoopbackAnyPort, [&](const util::Address&, util::ByteView d) {
               at_b.push_back(text_of(d));
             }).ok());
    REQUIRE(c.bind(kLoopbackAnyPort, [&](const util::Address&, util::ByteView d) {
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
    run_until(&loop, [&] { return at_b.size() >= to_b.size() && at_c.size() >= to_c.size(); });
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

TEST_CASE("UdpSocket carries MTU probe sizes intact and drops an oversize datagram alone") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    std::vector<std::string> at_b;
    UdpSocket a(&loop);
    UdpSocket b(&loop);
    REQUIRE(a.bind(kLoopbackAnyPort, [](const util::Address&, util::ByteView) {}).ok());
    REQUIRE(b.bind(kLoopbackAnyPort, [&](const util::Address&, util::ByteView data) {
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
    run_until(&loop, [&] { return at_b.size() >= sent.size(); });
    REQUIRE(at_b.size() == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) CHECK(at_b[i] == sent[i]);
    CHECK(a.stats().send_errors == 1);
    CHECK(a.stats().sent == sent.size());
  }
  CHECK(io::close_loop(&loop) == 0);
}
