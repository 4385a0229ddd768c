#include "forward/auth_backoff.hpp"

#include <algorithm>

#include "forward/constants.hpp"

namespace punch::forward {

namespace {

bool is_v4_mapped(const util::Address& a) {
  static constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return a.family == 6 && std::equal(std::begin(kPrefix), std::end(kPrefix), a.ip.begin());
}

util::Duration delay_after(std::uint32_t failures) {
  util::Duration d = kAuthBackoffBase;
  for (std::uint32_t i = 1; i < failures && d < kAuthBackoffMax; ++i) d *= 2;
  return std::min(d, kAuthBackoffMax);
}

}  // namespace

util::Address auth_client_key(const util::Address& address) {
  util::Address key;
  if (is_v4_mapped(address)) {
    key.family = 4;
    std::copy(address.ip.begin() + 12, address.ip.end(), key.ip.begin());
    return key;
  }
  key.family = address.family;
  const std::size_t keep = address.family == 6 ? kAuthBackoffIpv6PrefixBits / 8 : 4;
  std::copy(address.ip.begin(), address.ip.begin() + static_cast<std::ptrdiff_t>(keep),
            key.ip.begin());
  return key;
}

const AuthBackoff::Entry* AuthBackoff::live(const util::Address& key, util::TimePoint now) const {
  const auto it = clients_.find(key);
  if (it == clients_.end() || now - it->second.last_failure >= kAuthBackoffForget) return nullptr;
  return &it->second;
}

util::TimePoint AuthBackoff::ready_at(const util::Address& client, util::TimePoint now) const {
  const Entry* e = live(auth_client_key(client), now);
  return e == nullptr ? now : std::max(now, e->ready_at);
}

std::uint32_t AuthBackoff::failures(const util::Address& client, util::TimePoint now) const {
  const Entry* e = live(auth_client_key(client), now);
  return e == nullptr ? 0 : e->failures;
}

void AuthBackoff::on_failure(const util::Address& client, util::TimePoint now) {
  const util::Address key = auth_client_key(client);
  auto it = clients_.find(key);
  if (it != clients_.end() && now - it->second.last_failure >= kAuthBackoffForget) {
    it->second = Entry{};  // long ago: start over
  }
  if (it == clients_.end()) {
    make_room(now);
    it = clients_.emplace(key, Entry{}).first;
  }
  Entry& e = it->second;
  if (e.failures < UINT32_MAX) ++e.failures;
  e.last_failure = now;
  e.ready_at = now + delay_after(e.failures);
}

void AuthBackoff::on_success(const util::Address& client) {
  clients_.erase(auth_client_key(client));
}

// Frees a slot for a new client: first everything forgotten by now, else the client
// whose delay ends soonest (it holds the least back).
void AuthBackoff::make_room(util::TimePoint now) {
  if (clients_.size() < kAuthBackoffClients) return;
  std::erase_if(clients_,
                [&](const auto& kv) { return now - kv.second.last_failure >= kAuthBackoffForget; });
  if (clients_.size() < kAuthBackoffClients) return;
  const auto soonest = std::min_element(
      clients_.begin(), clients_.end(),
      [](const auto& a, const auto& b) { return a.second.ready_at < b.second.ready_at; });
  clients_.erase(soonest);
}

}  // namespace punch::forward
