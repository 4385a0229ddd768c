// Test tool: floods a rendezvous with HELLOs whose UDP source port changes with
// every datagram, from SOURCES loopback IPv4 addresses (127.0.0.2 and up), through a
// raw socket (the ports are forged, so no socket per port is needed: root only), and
// meanwhile measures how many legitimate new senders still get their CHALLENGE: every
// PROBE_MS a fresh socket on a fresh address (127.1.x.y) sends one HELLO and waits up
// to kProbeWait for the answer.
//
//   port_rotation_flood SERVER_IP PORT SOURCES SECONDS RATE PROBE_MS
//
// RATE is flood datagrams per second in all. Exit 77 without the privilege for a raw
// socket. Loopback only; prints the flood's size and the probes' answer rate.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "wire/rendezvous_message.hpp"

namespace {

namespace wire = punch::wire;
namespace util = punch::util;
using Clock = std::chrono::steady_clock;

// A CHALLENGE comes back within a millisecond on loopback; this is the margin for a
// busy machine, and what "refused" means: no answer within it.
constexpr auto kProbeWait = std::chrono::milliseconds(500);

struct Probe {
  int fd = -1;
  Clock::time_point deadline{};
  bool answered = false;
};

long flood(const sockaddr_in& server, int sources, double seconds, double rate,
           const std::atomic<bool>& stop) {
  const int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);  // implies IP_HDRINCL
  if (raw < 0) return -1;
  util::Bytes hello;
  wire::encode(wire::Hello{}, hello);
  std::vector<std::uint8_t> packet(sizeof(iphdr) + sizeof(udphdr) + hello.size());
  auto* ip = reinterpret_cast<iphdr*>(packet.data());
  auto* udp = reinterpret_cast<udphdr*>(packet.data() + sizeof(iphdr));
  ip->version = 4;
  ip->ihl = 5;
  ip->ttl = 64;
  ip->protocol = IPPROTO_UDP;
  ip->daddr = server.sin_addr.s_addr;  // Length, checksum and ID: the kernel's.
  udp->dest = server.sin_port;
  udp->len = htons(static_cast<std::uint16_t>(sizeof(udphdr) + hello.size()));
  udp->check = 0;  // None: allowed for UDP over IPv4.
  std::memcpy(packet.data() + sizeof(iphdr) + sizeof(udphdr), hello.data(), hello.size());

  const Clock::time_point start = Clock::now();
  long sent = 0;
  std::uint32_t counter = 0;
  while (!stop) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed >= seconds) break;
    // Catch up with the rate, then yield the CPU for a moment.
    while (sent < static_cast<long>(elapsed * rate)) {
      ++counter;
      ip->saddr = htonl(0x7f000002u + counter % static_cast<std::uint32_t>(sources));
      udp->source = htons(static_cast<std::uint16_t>(1024 + (counter / sources) % 64000));
      if (sendto(raw, packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&server),
                 sizeof server) < 0 &&
          errno != ENOBUFS)
        break;
      ++sent;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  close(raw);
  return sent;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr,
                 "usage: port_rotation_flood SERVER_IP PORT SOURCES SECONDS RATE PROBE_MS\n");
    return 2;
  }
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) return 2;
  const int sources = std::atoi(argv[3]);
  const double seconds = std::atof(argv[4]);
  const double rate = std::atof(argv[5]);
  const int probe_ms = std::atoi(argv[6]);
  if (sources < 1 || sources > 250 || seconds <= 0 || seconds > 60 || rate <= 0 || probe_ms < 1) {
    std::fprintf(stderr, "port_rotation_flood: bad arguments\n");
    return 2;
  }
  {
    const int probe_raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (probe_raw < 0) {
      std::fprintf(stderr, "port_rotation_flood: no raw socket (%s): needs root\n",
                   std::strerror(errno));
      return 77;
    }
    close(probe_raw);
  }

  std::atomic<bool> stop{false};
  long flooded = 0;
  std::thread flooder([&] { flooded = flood(server, sources, seconds, rate, stop); });

  util::Bytes hello;
  wire::encode(wire::Hello{{1, 2, 3, 4, 5, 6, 7, 8}}, hello);
  std::vector<Probe> probes;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  Clock::time_point next_probe = start + std::chrono::milliseconds(200);  // flood at full rate
  std::uint32_t probe_counter = 0;
  unsigned char buf[256];
  while (true) {
    const Clock::time_point now = Clock::now();
    if (now < end && now >= next_probe) {
      next_probe += std::chrono::milliseconds(probe_ms);
      ++probe_counter;
      Probe p;
      p.fd = socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in local{};
      local.sin_family = AF_INET;
      local.sin_addr.s_addr = htonl(0x7f010000u + probe_counter);  // 127.1.x.y: new each time
      if (p.fd < 0 || bind(p.fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
        std::fprintf(stderr, "port_rotation_flood: cannot bind a probe: %s\n",
                     std::strerror(errno));
        stop = true;
        flooder.join();
        return 1;
      }
      sendto(p.fd, hello.data(), hello.size(), 0, reinterpret_cast<const sockaddr*>(&server),
             sizeof server);
      p.deadline = now + kProbeWait;
      probes.push_back(p);
    }
    bool open_left = false;
    for (Probe& p : probes) {
      if (p.fd < 0) continue;
      const ssize_t n = recv(p.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0 &&
          wire::decode_challenge(util::ByteView(buf, static_cast<std::size_t>(n))).has_value())
        p.answered = true;
      if (p.answered || now >= p.deadline) {
        close(p.fd);
        p.fd = -1;
      } else {
        open_left = true;
      }
    }
    if (now >= end && !open_left) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  flooder.join();
  if (flooded < 0) {
    std::fprintf(stderr, "port_rotation_flood: raw socket failed\n");
    return 1;
  }
  long answered = 0;
  for (const Probe& p : probes) answered += p.answered ? 1 : 0;
  const long total = static_cast<long>(probes.size());
  std::printf(
      "port_rotation_flood: %ld HELLOs from %d addresses with rotating ports in %.1f s; "
      "new senders answered %ld of %ld, refused %ld (%.1f %%)\n",
      flooded, sources, seconds, answered, total, total - answered,
      total ? 100.0 * static_cast<double>(total - answered) / static_cast<double>(total) : 0);
  return 0;
}
