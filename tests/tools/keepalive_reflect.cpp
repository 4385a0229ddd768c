// Test tool: tries to turn a rendezvous relay into a reflector. It registers two
// keys of its own (a listener and a connector), sets up a relay between them, then
// sends, from a third "victim" socket, a KEEPALIVE carrying the listener's valid
// token (what an attacker who owns the registration, or saw its token on the path,
// can forge with the victim's source address), and finally pushes COUNT session
// packets into the relay from the connector. It prints how many bytes the victim
// sent and received, and how many relayed packets the listener still got.
//
//   keepalive_reflect SERVER_IP PORT VICTIM_IP COUNT
//
// Loopback only; bounded by COUNT and by a 2 s wait for each answer.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "wire/rendezvous_message.hpp"
#include "wire/session_packet.hpp"

namespace {

namespace wire = punch::wire;
namespace util = punch::util;
namespace crypto = punch::crypto;

constexpr int kAnswerTimeoutMs = 2000;

struct Socket {
  int fd = -1;
  long sent_bytes = 0;
  long received_bytes = 0;
  long received_datagrams = 0;
};

sockaddr_in v4(const char* ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
    std::fprintf(stderr, "keepalive_reflect: bad IPv4 address %s\n", ip);
    std::exit(2);
  }
  return a;
}

Socket open_socket(const char* ip) {
  Socket s;
  s.fd = socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in local = v4(ip, 0);
  if (s.fd < 0 || bind(s.fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    std::fprintf(stderr, "keepalive_reflect: cannot bind %s: %s\n", ip, std::strerror(errno));
    std::exit(1);
  }
  return s;
}

sockaddr_in g_server{};

void send_to_server(Socket& s, util::ByteView data) {
  if (sendto(s.fd, data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&g_server),
             sizeof g_server) >= 0)
    s.sent_bytes += static_cast<long>(data.size());
}

template <typename Message>
void send_message(Socket& s, const Message& m) {
  util::Bytes b;
  wire::encode(m, b);
  send_to_server(s, b);
}

// The next datagram on `s` within `timeout_ms`, counted; nullopt on timeout.
std::optional<util::Bytes> receive(Socket& s, int timeout_ms) {
  pollfd p{s.fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
  unsigned char buf[65536];
  const ssize_t n = recv(s.fd, buf, sizeof buf, 0);
  if (n < 0) return std::nullopt;
  s.received_bytes += n;
  ++s.received_datagrams;
  return util::Bytes(buf, buf + n);
}

// Everything that is waiting on `s` now, counted and dropped.
void drain(Socket& s) {
  while (receive(s, 0)) {
  }
}

// Registers `id` from `s` (HELLO, CHALLENGE, REGISTER, REGISTERED).
wire::Registered register_as(Socket& s, const crypto::Identity& id, std::uint64_t instance,
                             bool listener, crypto::RandomSource& rng) {
  wire::Nonce nonce{};
  rng.fill(nonce);
  send_message(s, wire::Hello{nonce});
  std::optional<wire::Challenge> ch;
  while (!ch) {
    const auto d = receive(s, kAnswerTimeoutMs);
    if (!d) {
      std::fprintf(stderr, "keepalive_reflect: no CHALLENGE\n");
      std::exit(1);
    }
    ch = wire::decode_challenge(*d);
  }
  wire::Register r;
  r.nonce = nonce;
  r.cookie = ch->cookie;
  r.instance = instance;
  r.flags = listener ? wire::kRegisterFlagListener : 0;
  r.spki = id.public_key_der();
  util::Bytes signed_data;
  wire::append_register_signed_data(r.nonce, r.cookie, r.instance, r.flags, signed_data);
  r.signature = id.sign(signed_data, rng);
  send_message(s, r);
  while (true) {
    const auto d = receive(s, kAnswerTimeoutMs);
    if (!d) {
      std::fprintf(stderr, "keepalive_reflect: no REGISTERED\n");
      std::exit(1);
    }
    if (auto reg = wire::decode_registered(*d)) return *reg;
  }
}

// Waits for a datagram on `s` that `decode` accepts.
template <typename Decode>
auto expect(Socket& s, Decode decode, const char* what) {
  while (true) {
    const auto d = receive(s, kAnswerTimeoutMs);
    if (!d) {
      std::fprintf(stderr, "keepalive_reflect: no %s\n", what);
      std::exit(1);
    }
    if (auto m = decode(*d)) return *m;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: keepalive_reflect SERVER_IP PORT VICTIM_IP COUNT\n");
    return 2;
  }
  g_server = v4(argv[1], static_cast<std::uint16_t>(std::atoi(argv[2])));
  const long count = std::atol(argv[4]);
  if (count < 1 || count > 1'000'000) return 2;

  crypto::SystemRandom rng;
  auto listener_key = crypto::Identity::generate(rng);
  auto connector_key = crypto::Identity::generate(rng);
  if (!listener_key.ok() || !connector_key.ok()) return 1;
  Socket l = open_socket(argv[1]);
  Socket c = open_socket(argv[1]);
  Socket victim = open_socket(argv[3]);

  const wire::Registered lreg = register_as(l, listener_key.value(), rng.u64(), true, rng);
  const wire::Registered creg = register_as(c, connector_key.value(), rng.u64(), false, rng);
  const std::uint64_t cid = rng.u64();
  send_message(c, wire::Connect{creg.instance, creg.token, cid, listener_key.value().id()});
  expect(
      l, [](const util::Bytes& d) { return wire::decode_invite(d); }, "INVITE");
  send_message(l, wire::Accept{lreg.instance, lreg.token, cid});
  expect(
      c, [](const util::Bytes& d) { return wire::decode_connect_ok(d); }, "CONNECT_OK");

  // The forgery: the listener's instance and token, from the victim's address.
  send_message(victim, wire::Keepalive{lreg.instance, lreg.token});
  // Whatever answer comes (KEEPALIVE_ACK if the registration moved, UNKNOWN if not).
  receive(victim, 500);

  util::Bytes packet;
  const std::string payload(1000, 'r');
  wire::encode_handshake_packet(cid, util::as_bytes(std::string_view(payload)), packet);
  long listener_got = 0;
  for (long i = 0; i < count; ++i) {
    send_to_server(c, packet);
    // Paced: a socket buffer overflow must not be what decides the figures.
    if (i % 50 == 49) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      const long before = l.received_datagrams;
      drain(l);
      listener_got += l.received_datagrams - before;
      drain(victim);
    }
  }
  // The last relayed packets are in flight for well under this on loopback.
  const long before = l.received_datagrams;
  while (receive(l, 200)) {
  }
  listener_got += l.received_datagrams - before;
  while (receive(victim, 200)) {
  }
  std::printf(
      "keepalive_reflect: victim sent %ld bytes, received %ld bytes in %ld datagrams; "
      "listener received %ld of %ld relayed packets\n",
      victim.sent_bytes, victim.received_bytes, victim.received_datagrams, listener_got, count);
  close(l.fd);
  close(c.fd);
  close(victim.fd);
  return 0;
}
