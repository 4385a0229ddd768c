#include "io/udp_socket_pool.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/sockaddr.hpp"
#include "io/udp_socket.hpp"
#include "unit/io/test_loop.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"

namespace io = punch::io;
namespace util = punch::util;
using punch::test::TestLoop;
using punch::test::text_of;

namespace {

using punch::test::kLoopback;
// Descriptors left free in the out-of-descriptors test.
constexpr int kSpareDescriptors = 4;

// A descriptor limit that leaves exactly `spare` numbers free: the kernel hands out
// the lowest free number and refuses (EMFILE) once that reaches the limit, so holes
// below the highest open descriptor (inherited ones can sit at 255) count as free.
rlim_t limit_leaving(int spare) {
  std::set<int> open;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    open.insert(std::stoi(entry.path().filename().string()));
  }
  int fd = 0;
  for (int free = 0;; ++fd) {
    if (open.count(fd) == 0 && ++free == spare) break;
  }
  return static_cast<rlim_t>(fd + 1);
}

using punch::test::kReceiveTimeoutMs;

struct PoolArrival {
  util::SocketId socket = util::kMainSocket;
  util::Address from;
  std::string data;
};

// A blocking socket outside libuv: the far end a pool socket talks to.
class PlainSocket {
 public:
  PlainSocket() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_storage ss;
    const socklen_t len = io::to_sockaddr(kLoopback, ss);
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&ss), len) == 0);
  }
  ~PlainSocket() { ::close(fd_); }
  PlainSocket(const PlainSocket&) = delete;
  PlainSocket& operator=(const PlainSocket&) = delete;

  util::Address address() const {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0);
    return io::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
  }

  void send(const util::Address& to, const std::string& data) {
    sockaddr_storage ss;
    const socklen_t len = io::to_sockaddr(to, ss);
    REQUIRE(::sendto(fd_, data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&ss),
                     len) == static_cast<ssize_t>(data.size()));
  }

  // The next datagram within kReceiveTimeoutMs, or nullopt.
  std::optional<PoolArrival> receive() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, kReceiveTimeoutMs) != 1) return std::nullopt;
    char buf[2048];
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    const ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) return std::nullopt;
    PoolArrival a;
    a.from = io::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
    a.data.assign(buf, static_cast<std::size_t>(n));
    return a;
  }

 private:
  int fd_ = -1;
};

}  // namespace

TEST_CASE("UdpSocketPool opens sockets with unique ids on the main socket's IP") {
  TestLoop loop;
  {
    io::UdpSocket main(loop.get());
    REQUIRE(main.bind(kLoopback, [](const util::Address&, util::ByteView) {}).ok());
    io::UdpSocketPool pool(loop.get(), main,
                           [](util::SocketId, const util::Address&, util::ByteView) {});
    std::set<util::SocketId> ids;
    std::set<std::uint16_t> ports{main.local_address().port};
    for (int i = 0; i < 16; ++i) {
      const auto id = pool.open();
      REQUIRE(id.has_value());
      CHECK(*id != util::kMainSocket);
      ids.insert(*id);
      const io::UdpSocket* s = pool.socket(*id);
      REQUIRE(s != nullptr);
      CHECK(s->local_address().ip_string() == "127.0.0.1");
      ports.insert(s->local_address().port);
    }
    CHECK(ids.size() == 16);
    CHECK(ports.size() == 17);  // each its own port, none the main one's
    CHECK(pool.open_count() == 16);

    const util::SocketId first = *ids.begin();
    pool.close(first);
    pool.close(first);  // twice: ignored
    pool.close(12345);  // never opened: ignored
    CHECK(pool.open_count() == 15);
    CHECK(pool.socket(first) == nullptr);
    // Ids keep growing, so a closed one is not handed out again.
    const auto next = pool.open();
    REQUIRE(next.has_value());
    CHECK(ids.count(*next) == 0);
    CHECK(*next > *ids.rbegin());
    CHECK(pool.open_count() == 16);

    pool.close_all();
    CHECK(pool.open_count() == 0);
    CHECK_FALSE(pool.open().has_value());  // shut down: no new handles
  }
  CHECK(loop.close() == 0);
}

TEST_CASE("UdpSocketPool delivers a datagram with the id of the socket it arrived on") {
  TestLoop loop;
  {
    std::vector<PoolArrival> arrivals;
    io::UdpSocket main(loop.get());
    REQUIRE(main.bind(kLoopback, [](const util::Address&, util::ByteView) {}).ok());
    io::UdpSocketPool pool(loop.get(), main,
                           [&](util::SocketId id, const util::Address& from, util::ByteView d) {
                             arrivals.push_back({id, from, text_of(d)});
                           });
    std::vector<util::SocketId> ids;
    for (int i = 0; i < 8; ++i) ids.push_back(pool.open().value());

    PlainSocket far;
    const util::SocketId target = ids[5];
    far.send(pool.socket(target)->local_address(), "guess");
    REQUIRE(loop.run_until([&] { return !arrivals.empty(); }));
    REQUIRE(arrivals.size() == 1);
    CHECK(arrivals[0].socket == target);
    CHECK(arrivals[0].from == far.address());
    CHECK(arrivals[0].data == "guess");

    // A closed socket receives nothing more; the others still do.
    const util::Address closed_address = pool.socket(target)->local_address();
    pool.close(target);
    far.send(closed_address, "too late");
    far.send(pool.socket(ids[6])->local_address(), "still here");
    REQUIRE(loop.run_until([&] { return arrivals.size() == 2; }));
    loop.run_for(std::chrono::milliseconds(20));
    REQUIRE(arrivals.size() == 2);
    CHECK(arrivals[1].socket == ids[6]);
    CHECK(arrivals[1].data == "still here");
  }
  CHECK(loop.close() == 0);
}

TEST_CASE("UdpSocketPool sink sends from that socket's port") {
  TestLoop loop;
  {
    io::UdpSocket main(loop.get());
    REQUIRE(main.bind(kLoopback, [](const util::Address&, util::ByteView) {}).ok());
    io::UdpSocketPool pool(loop.get(), main,
                           [](util::SocketId, const util::Address&, util::ByteView) {});
    const util::SocketId a = pool.open().value();
    const util::SocketId b = pool.open().value();
    PlainSocket far;
    pool.sink(b).send(far.address(), util::as_bytes("from b"));
    pool.sink(a).send_with_ttl(far.address(), util::as_bytes("from a"), 64);
    loop.run_for(std::chrono::milliseconds(1));  // the batch leaves before the loop waits
    std::set<std::string> seen;
    for (int i = 0; i < 2; ++i) {
      const auto got = far.receive();
      REQUIRE(got.has_value());
      const util::SocketId expected = got->data == "from a" ? a : b;
      CHECK(got->from == pool.socket(expected)->local_address());
      seen.insert(got->data);
    }
    CHECK(seen == std::set<std::string>{"from a", "from b"});

    // A closed socket's sink drops what a late caller sends, without a crash.
    pool.close(a);
    pool.sink(a).send(far.address(), util::as_bytes("dropped"));
    loop.run_for(std::chrono::milliseconds(1));
    CHECK(pool.open_count() == 1);
  }
  CHECK(loop.close() == 0);
}

TEST_CASE("UdpSocketPool closing sockets inside the receive callback is safe") {
  TestLoop loop;
  {
    io::UdpSocket main(loop.get());
    REQUIRE(main.bind(kLoopback, [](const util::Address&, util::ByteView) {}).ok());
    std::vector<util::SocketId> ids;
    std::optional<util::SocketId> winner;
    int deliveries = 0;
    io::UdpSocketPool* pool_ptr = nullptr;
    // As the birthday prober does: the socket that was hit stays, the others close
    // at once; here the hit socket closes itself too, from its own callback.
    io::UdpSocketPool pool(loop.get(), main,
                           [&](util::SocketId id, const util::Address&, util::ByteView) {
                             winner = id;
                             ++deliveries;
                             for (const util::SocketId other : ids) pool_ptr->close(other);
                           });
    pool_ptr = &pool;
    for (int i = 0; i < 32; ++i) ids.push_back(pool.open().value());
    PlainSocket far;
    // Two datagrams to one socket: libuv must not hand over the second after close.
    far.send(pool.socket(ids[3])->local_address(), "hit");
    far.send(pool.socket(ids[3])->local_address(), "hit again");
    REQUIRE(loop.run_until([&] { return winner.has_value(); }));
    loop.run_for(std::chrono::milliseconds(20));
    CHECK(*winner == ids[3]);
    CHECK(deliveries == 1);
    CHECK(pool.open_count() == 0);
  }
  CHECK(loop.close() == 0);
}

TEST_CASE("UdpSocketPool open() out of descriptors is nullopt, and the pool goes on") {
  rlimit before{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
  TestLoop loop;
  {
    io::UdpSocket main(loop.get());
    REQUIRE(main.bind(kLoopback, [](const util::Address&, util::ByteView) {}).ok());
    io::UdpSocketPool pool(loop.get(), main,
                           [](util::SocketId, const util::Address&, util::ByteView) {});
    // Room for a few more descriptors only, as when a process hits EMFILE.
    rlimit tight = before;
    tight.rlim_cur = limit_leaving(kSpareDescriptors);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
    int refused = 0;
    for (int i = 0; i < 2 * kSpareDescriptors; ++i) {
      if (!pool.open()) ++refused;
    }
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &before) == 0);
    // One more may fit: the listing of /proc/self/fd held a descriptor of its own.
    CHECK(refused > 0);
    CHECK(pool.open_count() >= static_cast<std::size_t>(kSpareDescriptors));
    CHECK(pool.open_count() <= static_cast<std::size_t>(kSpareDescriptors) + 1);
    // With descriptors back, opening works again.
    CHECK(pool.open().has_value());
  }
  CHECK(loop.close() == 0);
}
