#include "io/interfaces.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "io/sockaddr.hpp"

namespace punch::io {

namespace {
bool all_zero(const std::uint8_t* bytes, std::size_t n) {
  return std::all_of(bytes, bytes + n, [](std::uint8_t b) { return b == 0; });
}
}  // namespace

bool is_candidate_address(const util::Address& a) {
  if (a.family == 4) {
    if (all_zero(a.ip.data(), 4)) return false;
    if (a.ip[0] == 127) return false;
    // Link-local addresses are only unique on one link, so a peer elsewhere
    // could reach a different host there, or nothing.
    return !(a.ip[0] == 169 && a.ip[1] == 254);
  }
  if (a.family == 6) {
    if (all_zero(a.ip.data(), 16)) return false;
    if (all_zero(a.ip.data(), 15) && a.ip[15] == 1) return false;
    return !(a.ip[0] == 0xfe && (a.ip[1] & 0xc0) == 0x80);
  }
  return false;
}

std::vector<util::Address> host_addresses(int family) {
  std::vector<util::Address> out;
  uv_interface_address_t* interfaces = nullptr;
  int count = 0;
  if (uv_interface_addresses(&interfaces, &count) != 0) return out;
  for (int i = 0; i < count; ++i) {
    const uv_interface_address_t& ifa = interfaces[i];
    // address4 and address6 share their first member, the family.
    if (ifa.is_internal || ifa.address.address4.sin_family != family) continue;
    util::Address a = from_sockaddr(reinterpret_cast<const sockaddr*>(&ifa.address));
    a.port = 0;
    if (is_candidate_address(a)) out.push_back(a);
  }
  uv_free_interface_addresses(interfaces, count);
  // One address on several interfaces (or listed twice) is still one candidate.
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

util::Address source_address_towards(const util::Address& to) {
  sockaddr_storage dst{};
  const socklen_t dst_len = to_sockaddr(to, dst);
  const int fd = ::socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  util::Address local;
  sockaddr_storage src{};
  socklen_t src_len = sizeof src;
  // connect() on UDP only picks the route and the source address; no packet leaves.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&dst), dst_len) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&src), &src_len) == 0) {
    local = from_sockaddr(reinterpret_cast<const sockaddr*>(&src));
    local.port = 0;
  }
  ::close(fd);
  return local;
}

}  // namespace punch::io
