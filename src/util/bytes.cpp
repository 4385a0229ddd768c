#include "util/bytes.hpp"

namespace punch::util {

std::string to_hex(ByteView b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (std::uint8_t c : b) {
    s.push_back(kDigits[c >> 4]);
    s.push_back(kDigits[c & 15]);
  }
  return s;
}

Bytes from_hex(std::string_view hex, bool* ok) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  bool good = hex.size() % 2 == 0;
  for (std::size_t i = 0; good && i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      good = false;
      break;
    }
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  if (ok) *ok = good;
  if (!good) out.clear();
  return out;
}

}  // namespace punch::util
