#include "rendezvous/registry.hpp"

#include <algorithm>

#include "rendezvous/cookie_jar.hpp"

namespace punch::rendezvous {

Registration* Registry::find(std::uint64_t instance) {
  auto it = by_instance_.find(instance);
  return it == by_instance_.end() ? nullptr : &it->second;
}

Registration* Registry::authenticate(std::uint64_t instance, const wire::Token& token) {
  Registration* reg = find(instance);
  if (reg == nullptr || !constant_time_equal(reg->token, token)) return nullptr;
  return reg;
}

Registration& Registry::add(std::uint64_t instance, const wire::Token& token,
                            const crypto::NodeId& id, const util::Address& address, bool listener,
                            util::TimePoint expires) {
  Registration& reg = by_instance_[instance];
  reg.instance = instance;
  reg.token = token;
  reg.id = id;
  reg.address = address;
  reg.listener = listener;
  reg.expires = expires;
  reg.sequence = next_sequence_++;
  expiry_.emplace(expires, instance);
  if (listener) index_listener(reg);
  return reg;
}

void Registry::reregister(Registration& reg, bool listener, util::TimePoint expires) {
  if (reg.listener && !listener) unindex_listener(reg);
  if (!reg.listener && listener) index_listener(reg);
  reg.listener = listener;
  reg.sequence = next_sequence_++;
  refresh(reg, expires);
}

void Registry::refresh(Registration& reg, util::TimePoint expires) {
  expiry_.erase({reg.expires, reg.instance});
  reg.expires = expires;
  expiry_.emplace(expires, reg.instance);
}

Registration* Registry::newest_listener(const crypto::NodeId& id, std::uint64_t except_instance) {
  auto it = listeners_.find(id);
  if (it == listeners_.end()) return nullptr;
  Registration* best = nullptr;
  for (std::uint64_t instance : it->second) {
    if (instance == except_instance) continue;
    Registration* reg = find(instance);
    if (reg != nullptr && (best == nullptr || reg->sequence > best->sequence)) best = reg;
  }
  return best;
}

util::TimePoint Registry::next_expiry() const {
  return expiry_.empty() ? util::kNever : expiry_.begin()->first;
}

std::vector<Registration> Registry::take_expired(util::TimePoint now) {
  std::vector<Registration> out;
  while (!expiry_.empty() && expiry_.begin()->first <= now) {
    const std::uint64_t instance = expiry_.begin()->second;
    expiry_.erase(expiry_.begin());
    auto it = by_instance_.find(instance);
    if (it == by_instance_.end()) continue;
    if (it->second.listener) unindex_listener(it->second);
    out.push_back(std::move(it->second));
    by_instance_.erase(it);
  }
  return out;
}

void Registry::index_listener(const Registration& reg) {
  listeners_[reg.id].push_back(reg.instance);
}

void Registry::unindex_listener(const Registration& reg) {
  auto it = listeners_.find(reg.id);
  if (it == listeners_.end()) return;
  std::erase(it->second, reg.instance);
  if (it->second.empty()) listeners_.erase(it);
}

}  // namespace punch::rendezvous
