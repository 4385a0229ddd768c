// A UDP/TCP endpoint address as plain data, so the sans-I/O cores can store and
// compare addresses without touching sockaddr or any socket API.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "util/bytes.hpp"

namespace punch::util {

/// IPv4 or IPv6 address plus port.
struct Address {
  /// Address family: 4 or 6 (0 for an empty address).
  std::uint8_t family = 0;
  /// Address bytes, network order; IPv4 uses the first 4.
  std::array<std::uint8_t, 16> ip{};
  /// Port, host order.
  std::uint16_t port = 0;

  /// Builds an IPv4 address from four octets and a port.
  static Address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d,
                    std::uint16_t port);
  /// Parses "1.2.3.4:5", "[::1]:5" (port required); nullopt on bad syntax.
  static std::optional<Address> parse(std::string_view text);
  /// Parses a numeric IP (no port) and attaches `port`; nullopt if not numeric.
  static std::optional<Address> from_ip(std::string_view ip, std::uint16_t port);

  /// True for a set address.
  bool valid() const { return family == 4 || family == 6; }
  /// "1.2.3.4:5" or "[::1]:5".
  std::string to_string() const;
  /// Just the IP part, without brackets or port.
  std::string ip_string() const;

  /// Encodes as family(1) ip(4|16) port(2) for the wire.
  void encode(ByteWriter& w) const;
  /// Decodes the form written by encode(); fails the reader on bad family.
  static Address decode(ByteReader& r);

  friend bool operator==(const Address&, const Address&) = default;
  friend auto operator<=>(const Address&, const Address&) = default;
};

/// Hash for unordered containers keyed by address.
struct AddressHash {
  std::size_t operator()(const Address& a) const;
};

}  // namespace punch::util
