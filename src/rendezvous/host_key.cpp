#include "rendezvous/host_key.hpp"

#include <algorithm>

namespace punch::rendezvous {

namespace {

// ::ffff:a.b.c.d, as a dual-stack socket reports IPv4 senders: the /64 of that
// prefix is every IPv4 host at once.
bool is_v4_mapped(const util::Address& a) {
  return std::all_of(a.ip.begin(), a.ip.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
         a.ip[10] == 0xff && a.ip[11] == 0xff;
}

}  // namespace

util::Address host_key(const util::Address& from) {
  util::Address key = from;
  key.port = 0;
  if (key.family == 6 && !is_v4_mapped(key)) std::fill(key.ip.begin() + 8, key.ip.end(), 0);
  return key;
}

}  // namespace punch::rendezvous
