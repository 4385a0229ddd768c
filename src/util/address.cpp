#include "util/address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace punch::util {

Address Address::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d,
                    std::uint16_t port) {
  Address out;
  out.family = 4;
  out.ip[0] = a;
  out.ip[1] = b;
  out.ip[2] = c;
  out.ip[3] = d;
  out.port = port;
  return out;
}

std::optional<Address> Address::from_ip(std::string_view ip, std::uint16_t port) {
  const std::string s(ip);
  Address out;
  out.port = port;
  if (inet_pton(AF_INET, s.c_str(), out.ip.data()) == 1) {
    out.family = 4;
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.ip.data()) == 1) {
    out.family = 6;
    return out;
  }
  return std::nullopt;
}

std::optional<Address> Address::parse(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || port.empty() || value > 65535)
    return std::nullopt;
  return from_ip(host, static_cast<std::uint16_t>(value));
}

std::string Address::ip_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 4) {
    inet_ntop(AF_INET, ip.data(), buf, sizeof buf);
  } else if (family == 6) {
    inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
  } else {
    return "-";
  }
  return buf;
}

std::string Address::to_string() const {
  if (family == 6) return "[" + ip_string() + "]:" + std::to_string(port);
  return ip_string() + ":" + std::to_string(port);
}

void Address::encode(ByteWriter& w) const {
  w.u8(family);
  w.bytes(ByteView(ip.data(), family == 6 ? 16 : 4));
  w.u16(port);
}

Address Address::decode(ByteReader& r) {
  Address a;
  a.family = r.u8();
  if (a.family != 4 && a.family != 6) {
    r.fail();
    return {};
  }
  const ByteView b = r.bytes(a.family == 6 ? 16 : 4);
  if (!r.ok()) return {};
  std::memcpy(a.ip.data(), b.data(), b.size());
  a.port = r.u16();
  return r.ok() ? a : Address{};
}

std::size_t AddressHash::operator()(const Address& a) const {
  std::size_t h = a.family * 1000003u ^ a.port;
  for (std::uint8_t b : a.ip) h = h * 131 + b;
  return h;
}

}  // namespace punch::util
