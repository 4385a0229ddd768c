// Test tool: floods a rendezvous with REGISTERs that carry a valid cookie and a
// well-formed signature by the wrong key, from many source addresses at once (each
// with several ports, so that no per-port limit is what stops it), for a bounded
// time. Every such REGISTER that the server verifies costs it an ECDSA verification;
// tests/adversarial/test_register_flood.sh measures what that does to a relay.
//
//   register_flood SERVER_IP PORT FIRST_SOURCE_IP SOURCES SECONDS RATE [MODE]
//
// FIRST_SOURCE_IP and the SOURCES-1 IPv4 addresses after it are the sources (loopback:
// 127.0.0.x needs no setup; an IPv6 source is used alone). RATE is REGISTERs per
// second per source, spread over kPortsPerSource ports. MODE: "replay" keeps one
// cookie per port and replays the same REGISTER (the old attack: a cookie was good
// for 30 s of verifications); "fresh" asks for a new cookie before every REGISTER
// (the best an attacker can do against single-use cookies); "mixed" (default) does
// both, half the ports each. Loopback only; prints what it sent.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "wire/rendezvous_message.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace wire = punch::wire;
namespace util = punch::util;
namespace crypto = punch::crypto;

// 10 ports at 20/s each (the rendezvous's per-port control rate) give a source the
// full per-host rate of 200/s.
constexpr int kPortsPerSource = 10;
// A replayed cookie is renewed well before its 30 s expiry.
constexpr auto kCookieRenewal = std::chrono::seconds(20);
// An unanswered HELLO is re-sent after this long.
constexpr auto kHelloRetry = std::chrono::milliseconds(500);

struct Port {
  int fd = -1;
  bool fresh = false;  // Asks for a new cookie before each REGISTER.
  std::optional<wire::Challenge> challenge;
  Clock::time_point challenge_at{};
  Clock::time_point hello_at{};
  bool hello_pending = false;
  bool had_cookie = false;  // Got at least one CHALLENGE: it is flooding.
  double credit = 0;        // REGISTERs owed at the configured rate.
  std::uint64_t nonce_counter = 0;
};

struct Totals {
  long hellos = 0;
  long challenges = 0;
  long registers = 0;
};

sockaddr_storage make_addr(const std::string& ip, std::uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
  } else {
    std::fprintf(stderr, "register_flood: bad IP %s\n", ip.c_str());
    std::exit(2);
  }
  return ss;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr,
                 "usage: register_flood SERVER_IP PORT FIRST_SOURCE_IP SOURCES SECONDS RATE "
                 "[replay|fresh|mixed]\n");
    return 2;
  }
  socklen_t server_len = 0;
  const sockaddr_storage server =
      make_addr(argv[1], static_cast<std::uint16_t>(std::atoi(argv[2])), server_len);
  const std::string first = argv[3];
  const int sources = std::atoi(argv[4]);
  const double seconds = std::atof(argv[5]);
  const double rate = std::atof(argv[6]);
  const std::string mode = argc > 7 ? argv[7] : "mixed";
  if (sources < 1 || sources > 250 || seconds <= 0 || seconds > 120 || rate <= 0 ||
      (mode != "replay" && mode != "fresh" && mode != "mixed")) {
    std::fprintf(stderr, "register_flood: bad arguments\n");
    return 2;
  }

  crypto::SystemRandom rng;
  auto owner = crypto::Identity::generate(rng);
  if (!owner.ok()) return 1;
  // Well formed, by the claimed key even, but over other data: verification runs to
  // the end and fails.
  const util::Bytes signature =
      owner.value().sign(util::as_bytes(std::string_view("not the signed data")), rng);

  std::vector<Port> ports;
  in_addr base4{};
  const bool v4 = inet_pton(AF_INET, first.c_str(), &base4) == 1;
  const int source_count = v4 ? sources : 1;
  for (int s = 0; s < source_count; ++s) {
    std::string ip = first;
    if (v4) {
      in_addr a{};
      a.s_addr = htonl(ntohl(base4.s_addr) + static_cast<std::uint32_t>(s));
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &a, text, sizeof text);
      ip = text;
    }
    for (int p = 0; p < kPortsPerSource; ++p) {
      socklen_t len = 0;
      const sockaddr_storage local = make_addr(ip, 0, len);
      Port port;
      port.fd = socket(local.ss_family, SOCK_DGRAM, 0);
      if (port.fd < 0 || bind(port.fd, reinterpret_cast<const sockaddr*>(&local), len) != 0) {
        std::fprintf(stderr, "register_flood: cannot bind %s: %s\n", ip.c_str(),
                     std::strerror(errno));
        return 1;
      }
      fcntl(port.fd, F_SETFL, O_NONBLOCK);
      port.fresh = mode == "fresh" || (mode == "mixed" && p % 2 == 1);
      port.nonce_counter = static_cast<std::uint64_t>(s) << 32 | static_cast<std::uint64_t>(p)
                                                                     << 16;
      ports.push_back(port);
    }
  }

  Totals totals;
  util::Bytes out;
  auto send = [&](const Port& port) {
    sendto(port.fd, out.data(), out.size(), 0, reinterpret_cast<const sockaddr*>(&server),
           server_len);
  };
  auto send_hello = [&](Port& port, Clock::time_point now) {
    wire::Nonce nonce{};
    const std::uint64_t n = ++port.nonce_counter;
    std::memcpy(nonce.data(), &n, sizeof n);
    out.clear();
    wire::encode(wire::Hello{nonce}, out);
    send(port);
    port.hello_pending = true;
    port.hello_at = now;
    ++totals.hellos;
  };
  auto send_register = [&](Port& port) {
    wire::Register r;
    r.nonce = port.challenge->nonce;
    r.cookie = port.challenge->cookie;
    r.instance = 0xbad;
    r.spki = owner.value().public_key_der();
    r.signature = signature;
    out.clear();
    wire::encode(r, out);
    send(port);
    ++totals.registers;
  };

  const double per_port = rate / kPortsPerSource;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  Clock::time_point last = start;
  unsigned char buf[2048];
  std::size_t ports_with_cookie = 0;
  bool announced = false;
  while (true) {
    const Clock::time_point now = Clock::now();
    if (now >= end) break;
    const double elapsed = std::chrono::duration<double>(now - last).count();
    last = now;
    for (Port& port : ports) {
      // Answers first: a CHALLENGE for our latest nonce is a cookie to use.
      while (true) {
        const ssize_t n = recv(port.fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        const auto ch = wire::decode_challenge(util::ByteView(buf, static_cast<std::size_t>(n)));
        if (!ch) continue;
        ++totals.challenges;
        if (!port.had_cookie) {
          port.had_cookie = true;
          ++ports_with_cookie;
        }
        port.challenge = ch;
        port.challenge_at = now;
        port.hello_pending = false;
        if (port.fresh && port.credit >= 1) {
          port.credit -= 1;
          send_register(port);
          port.challenge.reset();  // Used: the next REGISTER needs a new cookie.
        }
      }
      port.credit = std::min(port.credit + per_port * elapsed, 4.0);
      if (port.fresh) {
        if (port.credit >= 1 && (!port.hello_pending || now - port.hello_at > kHelloRetry))
          send_hello(port, now);
        continue;
      }
      if (!port.challenge || now - port.challenge_at > kCookieRenewal) {
        if (!port.hello_pending || now - port.hello_at > kHelloRetry) send_hello(port, now);
        if (!port.challenge) continue;
      }
      while (port.credit >= 1) {
        port.credit -= 1;
        send_register(port);
      }
    }
    if (!announced && ports_with_cookie == ports.size()) {
      // Every port has a cookie: the flood is at full rate from here on.
      announced = true;
      std::printf("register_flood: flooding\n");
      std::fflush(stdout);
    }
    // Paced, not a busy loop: the flood must not take the CPU it is meant to measure.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (const Port& port : ports) close(port.fd);
  std::printf(
      "register_flood: %ld REGISTERs (%ld HELLOs, %ld CHALLENGEs) from %d sources x %d "
      "ports in %.1f s, mode %s\n",
      totals.registers, totals.hellos, totals.challenges, source_count, kPortsPerSource, seconds,
      mode.c_str());
  return 0;
}
