// Test tool for the NAT lab (tests/lab): a tiny UDP reflector and client, libc only.
//
//   udp_probe echo PORT [--alt-port P] [--lifetime SECS]
//     Answers every datagram with "seen IP:PORT", the sender's address as this host
//     sees it (after any NAT), from the address the datagram was sent to. A datagram
//     whose payload is "alt" is also answered from --alt-port, a port the client has
//     never sent to (like STUN's CHANGE-REQUEST): only a NAT or firewall without
//     address-and-port-dependent filtering lets that second answer in. Datagrams that
//     start with "seen " are logged but never answered, so two reflectors cannot loop.
//     Logs "listening PORT" once bound, then "got SRC -> DST PAYLOAD" per datagram.
//     Exits by itself after --lifetime seconds (default 120).
//
//   udp_probe ask HOST PORT [--from-port P] [--ttl N] [--payload TEXT]
//                           [--timeout MS] [--tries N] [--linger MS]
//     Sends PAYLOAD (default "hello") to HOST:PORT up to N times (default 1), spread
//     over the timeout (default 1000 ms), and prints every answer as "SRC:PORT TEXT".
//     Stops at the first answer, or --linger MS after it to collect late ones. ICMP
//     errors (IP_RECVERR) are printed as "icmp KIND from ADDR".
//     Exit status: 0 answered, 1 nothing within the timeout, 3 ICMP error and no
//     answer, 2 usage or system error.
#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Largest datagram read; the lab only sends short text.
constexpr std::size_t kMaxDatagram = 2048;
// Upper bound on datagrams an echo answers, so a misbehaving test cannot make it spin.
constexpr long kMaxEchoAnswers = 100000;

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: udp_probe echo PORT [--alt-port P] [--lifetime SECS]\n"
               "       udp_probe ask HOST PORT [--from-port P] [--ttl N] [--payload TEXT]\n"
               "                 [--timeout MS] [--tries N] [--linger MS]\n");
  std::exit(2);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "udp_probe: %s: %s\n", what, std::strerror(errno));
  std::exit(2);
}

long number(const char* text, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) usage();
  return v;
}

std::string addr_text(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
}

std::string ip_text(const in_addr& a) {
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, ip, sizeof ip);
  return ip;
}

// Printable form of a payload for logs: at most 64 characters, controls as '.'.
std::string printable(const char* data, std::size_t len) {
  std::string out;
  for (std::size_t i = 0; i < len && i < 64; ++i)
    out += (data[i] >= 0x20 && data[i] < 0x7f) ? data[i] : '.';
  return out;
}

int bound_socket(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_ANY);
  local.sin_port = htons(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) die("bind");
  return fd;
}

// Sends TEXT to TO from socket FD with source address SRC (IP_PKTINFO), so a host
// with several addresses answers from the one it was asked on.
void send_from(int fd, const in_addr& src, const sockaddr_in& to, const std::string& text) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_in*>(&to);
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
  in_pktinfo info{};
  info.ipi_spec_dst = src;
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
  if (sendmsg(fd, &msg, 0) < 0)
    std::fprintf(stderr, "udp_probe: sendmsg to %s: %s\n", addr_text(to).c_str(),
                 std::strerror(errno));
}

int run_echo(int argc, char** argv) {
  if (argc < 3) usage();
  const auto port = static_cast<std::uint16_t>(number(argv[2], 1, 65535));
  long alt_port = 0;
  long lifetime_s = 120;
  for (int i = 3; i < argc; ++i) {
    const std::string_view opt = argv[i];
    if (i + 1 >= argc) usage();
    if (opt == "--alt-port")
      alt_port = number(argv[++i], 1, 65535);
    else if (opt == "--lifetime")
      lifetime_s = number(argv[++i], 1, 86400);
    else
      usage();
  }
  std::vector<int> fds{bound_socket(port)};
  if (alt_port != 0) fds.push_back(bound_socket(static_cast<std::uint16_t>(alt_port)));
  const int on = 1;
  for (int fd : fds)
    if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0) die("IP_PKTINFO");
  if (alt_port != 0)
    std::printf("listening %u alt %ld\n", port, alt_port);
  else
    std::printf("listening %u\n", port);

  const auto deadline = Clock::now() + std::chrono::seconds(lifetime_s);
  long answers = 0;
  while (answers < kMaxEchoAnswers) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd pfds[2] = {};
    for (std::size_t i = 0; i < fds.size(); ++i) pfds[i] = {fds[i], POLLIN, 0};
    const int n = poll(pfds, fds.size(), static_cast<int>(left));
    if (n < 0 && errno != EINTR) die("poll");
    for (std::size_t i = 0; n > 0 && i < fds.size(); ++i) {
      if ((pfds[i].revents & POLLIN) == 0) continue;
      char buf[kMaxDatagram];
      sockaddr_in from{};
      iovec iov{buf, sizeof buf};
      alignas(cmsghdr) char control[256];
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      const ssize_t len = recvmsg(fds[i], &msg, 0);
      if (len < 0) continue;  // e.g. a queued ICMP error from an earlier answer.
      in_addr dst{};
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
          in_pktinfo info{};
          std::memcpy(&info, CMSG_DATA(c), sizeof info);
          dst = info.ipi_addr;
        }
      const std::string_view payload(buf, static_cast<std::size_t>(len));
      std::printf("got %s -> %s:%u %s\n", addr_text(from).c_str(), ip_text(dst).c_str(),
                  i == 0 ? port : static_cast<unsigned>(alt_port),
                  printable(buf, static_cast<std::size_t>(len)).c_str());
      if (payload.starts_with("seen ")) continue;  // An answer: never answer it.
      const std::string answer = "seen " + addr_text(from);
      send_from(fds[i], dst, from, answer);
      if (payload == "alt" && fds.size() > 1) send_from(fds[1], dst, from, answer);
      ++answers;
    }
  }
  for (int fd : fds) close(fd);
  return 0;
}

const char* icmp_kind(const sock_extended_err& ee) {
  if (ee.ee_type == ICMP_TIME_EXCEEDED) return "time-exceeded";
  if (ee.ee_type == ICMP_DEST_UNREACH) {
    switch (ee.ee_code) {
      case ICMP_PORT_UNREACH:
        return "port-unreachable";
      case ICMP_HOST_UNREACH:
        return "host-unreachable";
      case ICMP_NET_UNREACH:
        return "net-unreachable";
      case ICMP_PKT_FILTERED:
        return "admin-prohibited";
      default:
        return "unreachable";
    }
  }
  return "other";
}

// Reads one queued ICMP error (MSG_ERRQUEUE); prints it and returns true if it was one.
bool read_icmp_error(int fd) {
  char buf[kMaxDatagram];
  sockaddr_in from{};
  iovec iov{buf, sizeof buf};
  alignas(cmsghdr) char control[512];
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (recvmsg(fd, &msg, MSG_ERRQUEUE) < 0) return false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_RECVERR) continue;
    sock_extended_err ee{};
    std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
    if (ee.ee_origin != SO_EE_ORIGIN_ICMP) continue;
    // The offender address follows the sock_extended_err in the same cmsg.
    sockaddr_in offender{};
    std::memcpy(&offender, CMSG_DATA(c) + sizeof ee, sizeof offender);
    std::printf("icmp %s from %s\n", icmp_kind(ee), ip_text(offender.sin_addr).c_str());
    return true;
  }
  return false;
}

int run_ask(int argc, char** argv) {
  if (argc < 4) usage();
  sockaddr_in to{};
  to.sin_family = AF_INET;
  if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) usage();
  to.sin_port = htons(static_cast<std::uint16_t>(number(argv[3], 1, 65535)));
  long from_port = 0, ttl = 0, timeout_ms = 1000, tries = 1, linger_ms = 0;
  std::string payload = "hello";
  for (int i = 4; i < argc; ++i) {
    const std::string_view opt = argv[i];
    if (i + 1 >= argc) usage();
    if (opt == "--from-port")
      from_port = number(argv[++i], 1, 65535);
    else if (opt == "--ttl")
      ttl = number(argv[++i], 1, 255);
    else if (opt == "--payload")
      payload = argv[++i];
    else if (opt == "--timeout")
      timeout_ms = number(argv[++i], 1, 60000);
    else if (opt == "--tries")
      tries = number(argv[++i], 1, 100);
    else if (opt == "--linger")
      linger_ms = number(argv[++i], 0, 60000);
    else
      usage();
  }
  const int fd = bound_socket(static_cast<std::uint16_t>(from_port));
  const int on = 1;
  if (setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on) != 0) die("IP_RECVERR");
  if (ttl != 0) {
    const int t = static_cast<int>(ttl);
    if (setsockopt(fd, IPPROTO_IP, IP_TTL, &t, sizeof t) != 0) die("IP_TTL");
  }

  const auto start = Clock::now();
  auto deadline = start + milliseconds(timeout_ms);
  const auto interval = milliseconds(timeout_ms / tries);
  auto next_send = start;
  long sent = 0;
  bool answered = false, icmp = false;
  while (true) {
    const auto now = Clock::now();
    if (now >= deadline) break;
    if (!answered && sent < tries && now >= next_send) {
      if (sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof to) < 0 &&
          errno != ECONNREFUSED && errno != EHOSTUNREACH && errno != ENETUNREACH)
        die("sendto");
      ++sent;
      next_send = now + interval;
    }
    auto wake = deadline;
    if (!answered && sent < tries && next_send < wake) wake = next_send;
    const auto wait = std::chrono::duration_cast<milliseconds>(wake - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(wait > 0 ? wait : 0) + 1);
    if (n < 0 && errno != EINTR) die("poll");
    if (n <= 0) continue;
    if (p.revents & POLLERR) {
      if (read_icmp_error(fd)) {
        icmp = true;
        if (!answered) break;  // The datagram died on the way; no answer will come.
      }
    }
    if (p.revents & POLLIN) {
      char buf[kMaxDatagram];
      sockaddr_in from{};
      socklen_t from_len = sizeof from;
      const ssize_t len =
          recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (len < 0) continue;  // A pending ICMP error surfaces here too; read above.
      std::printf("%s %s\n", addr_text(from).c_str(),
                  printable(buf, static_cast<std::size_t>(len)).c_str());
      if (!answered) {
        answered = true;
        deadline = Clock::now() + milliseconds(linger_ms);
      }
    }
  }
  close(fd);
  if (answered) return 0;
  return icmp ? 3 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) usage();
  const std::string_view mode = argv[1];
  if (mode == "echo") return run_echo(argc, argv);
  if (mode == "ask") return run_ask(argc, argv);
  usage();
}
