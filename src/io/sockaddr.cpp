#include "io/sockaddr.hpp"

#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace punch::io {

util::Address from_sockaddr(const sockaddr* sa) {
  util::Address a;
  if (sa == nullptr) return a;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    a.family = 4;
    std::memcpy(a.ip.data(), &in->sin_addr, 4);
    a.port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    a.family = 6;
    std::memcpy(a.ip.data(), &in6->sin6_addr, 16);
    a.port = ntohs(in6->sin6_port);
  }
  return a;
}

socklen_t to_sockaddr(const util::Address& a, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (a.family == 6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_addr, a.ip.data(), 16);
    in6->sin6_port = htons(a.port);
    return sizeof(sockaddr_in6);
  }
  auto* in = reinterpret_cast<sockaddr_in*>(&out);
  in->sin_family = AF_INET;
  std::memcpy(&in->sin_addr, a.ip.data(), 4);
  in->sin_port = htons(a.port);
  return sizeof(sockaddr_in);
}

util::Result<util::Address> resolve(const std::string& host_port, std::uint16_t default_port) {
  if (host_port.empty()) return util::Error{"empty address"};
  std::string host = host_port;
  std::uint16_t port = default_port;
  std::string port_text;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string::npos) return util::Error{"bad address '" + host_port + "'"};
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return util::Error{"bad address '" + host_port + "'"};
      port_text = host.substr(close + 2);
    }
    host = host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    const auto colon = host.find(':');
    port_text = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (!port_text.empty() || (!host_port.empty() && host_port.back() == ':')) {
    unsigned value = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535)
      return util::Error{"bad port in '" + host_port + "'"};
    port = static_cast<std::uint16_t>(value);
  }
  if (host.empty()) return util::Error{"missing host in '" + host_port + "'"};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr)
    return util::Error{"cannot resolve '" + host + "': " + gai_strerror(rc)};
  util::Address a;
  for (addrinfo* p = res; p; p = p->ai_next) {
    a = from_sockaddr(p->ai_addr);
    if (a.family == 4) break;  // one socket per family; prefer IPv4 for now
  }
  freeaddrinfo(res);
  if (!a.valid()) return util::Error{"no usable address for '" + host + "'"};
  a.port = port;
  return a;
}

}  // namespace punch::io
