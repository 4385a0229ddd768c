// Test tool for tests/adversarial: floods a listener with invitations from keys it
// does not allow. It registers KEYS fresh keys at the rendezvous, spread over HOSTS
// loopback addresses (127.0.0.FIRST, 127.0.0.FIRST+1, ...) so that neither the
// per-source nor the per-IP limit of the rendezvous caps the total, then sends
// CONNECTs for TARGET (an ID) with fresh connection IDs at RATE per second for
// SECONDS, never retransmitting. Answers are counted: CONNECT_FAIL by code.
//
//   invite_flood RV_IP RV_PORT TARGET RATE SECONDS [HOSTS KEYS FIRST]
//
// Prints "registered K keys" once the flood starts (tests wait for it) and a summary
// line at the end: "sent N CONNECTs in S s (R/s); refused A, limit B, unknown C".
// Exit status: 0 done, 1 registration failed, 2 usage or system error. Loopback only.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "crypto/identity.hpp"
#include "crypto/node_id.hpp"
#include "crypto/random.hpp"
#include "util/bytes.hpp"
#include "wire/rendezvous_message.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace punch;

// How long registration of all keys may take before the tool gives up.
constexpr auto kRegisterTimeout = std::chrono::seconds(10);
// HELLO is re-sent this often until REGISTERED arrives (the rendezvous may drop it
// under its rate limit while many keys register at once).
constexpr auto kHelloRetry = std::chrono::milliseconds(300);

struct Key {
  crypto::Identity identity;
  int fd = -1;
  std::uint64_t instance = 0;
  wire::Nonce nonce{};
  wire::Token token{};
  bool registered = false;
  Clock::time_point next_hello{};
};

sockaddr_in to_sockaddr(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) {
    std::fprintf(stderr, "invite_flood: bad IPv4 address %s\n", ip.c_str());
    std::exit(2);
  }
  return a;
}

template <typename Message>
void send_to(int fd, const sockaddr_in& rv, const Message& m) {
  util::Bytes out;
  wire::encode(m, out);
  // A full socket buffer loses the datagram, as the network could.
  (void)sendto(fd, out.data(), out.size(), 0, reinterpret_cast<const sockaddr*>(&rv), sizeof rv);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 && argc != 9) {
    std::fprintf(stderr,
                 "usage: invite_flood RV_IP RV_PORT TARGET RATE SECONDS [HOSTS KEYS FIRST]\n");
    return 2;
  }
  const sockaddr_in rv = to_sockaddr(argv[1], std::atoi(argv[2]));
  const auto target = crypto::NodeId::parse(argv[3]);
  const double rate = std::atof(argv[4]);
  const double seconds = std::atof(argv[5]);
  const int hosts = argc == 9 ? std::atoi(argv[6]) : 8;
  const int nkeys = argc == 9 ? std::atoi(argv[7]) : 64;
  const int first = argc == 9 ? std::atoi(argv[8]) : 2;
  if (!target || rate <= 0 || seconds <= 0 || hosts < 1 || nkeys < 1 || first < 1 ||
      first + hosts > 255) {
    std::fprintf(stderr, "invite_flood: bad arguments\n");
    return 2;
  }

  crypto::SystemRandom rng;
  std::vector<Key> keys;
  keys.reserve(static_cast<std::size_t>(nkeys));
  for (int i = 0; i < nkeys; ++i) {
    auto id = crypto::Identity::generate(rng);
    if (!id.ok()) return 2;
    Key k{std::move(*id)};
    k.fd = socket(AF_INET, SOCK_DGRAM, 0);
    const sockaddr_in local = to_sockaddr("127.0.0." + std::to_string(first + i % hosts), 0);
    if (k.fd < 0 || bind(k.fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0 ||
        fcntl(k.fd, F_SETFL, O_NONBLOCK) != 0) {
      std::perror("invite_flood: socket");
      return 2;
    }
    k.instance = rng.u64();
    rng.fill(k.nonce);
    keys.push_back(std::move(k));
  }

  std::vector<pollfd> fds;
  for (const Key& k : keys) fds.push_back({k.fd, POLLIN, 0});
  std::uint64_t refused = 0, limit = 0, unknown = 0, other = 0;
  util::Bytes buf(2048);
  // Reads everything waiting: registration answers, then CONNECT_FAILs.
  auto drain = [&](int timeout_ms) {
    if (poll(fds.data(), fds.size(), timeout_ms) <= 0) return;
    for (Key& k : keys) {
      for (;;) {
        const ssize_t n = recv(k.fd, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        const util::ByteView d(buf.data(), static_cast<std::size_t>(n));
        if (auto ch = wire::decode_challenge(d); ch && ch->nonce == k.nonce && !k.registered) {
          wire::Register r;
          r.nonce = k.nonce;
          r.cookie = ch->cookie;
          r.instance = k.instance;
          r.spki = k.identity.public_key_der();
          util::Bytes signed_data;
          wire::append_register_signed_data(r.nonce, r.cookie, r.instance, r.flags, signed_data);
          r.signature = k.identity.sign(signed_data, rng);
          send_to(k.fd, rv, r);
        } else if (auto reg = wire::decode_registered(d); reg && reg->instance == k.instance) {
          k.token = reg->token;
          k.registered = true;
        } else if (auto fail = wire::decode_connect_fail(d)) {
          switch (static_cast<wire::ConnectFailCode>(fail->code)) {
            case wire::ConnectFailCode::kRefused:
              ++refused;
              break;
            case wire::ConnectFailCode::kLimit:
              ++limit;
              break;
            case wire::ConnectFailCode::kUnknownPeer:
              ++unknown;
              break;
            default:
              ++other;
              break;
          }
        }
      }
    }
  };

  const auto register_deadline = Clock::now() + kRegisterTimeout;
  for (;;) {
    std::size_t done = 0;
    const auto now = Clock::now();
    for (Key& k : keys) {
      if (k.registered) {
        ++done;
      } else if (now >= k.next_hello) {
        send_to(k.fd, rv, wire::Hello{k.nonce});
        k.next_hello = now + kHelloRetry;
      }
    }
    if (done == keys.size()) break;
    if (now > register_deadline) {
      std::fprintf(stderr, "invite_flood: only %zu of %zu keys registered\n", done, keys.size());
      return 1;
    }
    drain(20);
  }
  std::printf("registered %zu keys\n", keys.size());
  std::fflush(stdout);

  // Paced by the clock, not by sleeps of a fixed length: each CONNECT leaves when its
  // time has come, so the rate holds whatever the cost of reading answers.
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  std::uint64_t sent = 0;
  for (;;) {
    const auto now = Clock::now();
    if (now >= end) break;
    const auto due = start + std::chrono::duration_cast<Clock::duration>(interval * sent);
    if (now >= due) {
      const Key& k = keys[sent % keys.size()];
      std::uint64_t cid = 0;
      while (cid == 0) cid = rng.u64();
      send_to(k.fd, rv, wire::Connect{k.instance, k.token, cid, *target});
      ++sent;
      continue;
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(due - now).count();
    drain(static_cast<int>(std::max<long long>(0, std::min<long long>(wait, 5))));
  }
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  drain(200);  // answers still on their way
  std::printf(
      "sent %llu CONNECTs in %.1f s (%.0f/s) from %zu keys on %d hosts; refused %llu, "
      "limit %llu, unknown %llu, other %llu\n",
      static_cast<unsigned long long>(sent), took, static_cast<double>(sent) / took, keys.size(),
      hosts, static_cast<unsigned long long>(refused), static_cast<unsigned long long>(limit),
      static_cast<unsigned long long>(unknown), static_cast<unsigned long long>(other));
  for (const Key& k : keys) close(k.fd);
  return 0;
}
