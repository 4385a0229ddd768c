// Test tool: sends N random and truncated datagrams to HOST:PORT, paced, from a
// few source ports. Used to show that garbage at the rendezvous is dropped
// without disturbing running sessions. Bounded in count; loopback only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: udp_flood IP PORT COUNT [SEED]\n");
    return 2;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return 2;
  to.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
  const long count = std::atol(argv[3]);
  std::mt19937_64 rng(argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 42);
  std::vector<int> socks;
  for (int i = 0; i < 4; ++i) socks.push_back(socket(AF_INET, SOCK_DGRAM, 0));
  std::vector<unsigned char> buf(1500);
  long sent = 0;
  for (long i = 0; i < count; ++i) {
    // Half look like punch (a valid type byte), half are anything; all lengths.
    const std::size_t len = rng() % 1300;
    for (std::size_t j = 0; j < len; ++j) buf[j] = static_cast<unsigned char>(rng());
    if (len > 0 && i % 2 == 0) buf[0] = static_cast<unsigned char>(1 + rng() % 0x20);
    if (sendto(socks[i % socks.size()], buf.data(), len, 0, reinterpret_cast<sockaddr*>(&to),
               sizeof to) >= 0)
      ++sent;
    // Paced (about 20,000/s) so the test measures robustness, not buffer overflow.
    if (i % 100 == 99) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (int s : socks) close(s);
  std::printf("%ld datagrams sent\n", sent);
  return sent == count ? 0 : 1;
}
