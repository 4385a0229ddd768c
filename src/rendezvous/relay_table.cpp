#include "rendezvous/relay_table.hpp"

namespace punch::rendezvous {

Relay* RelayTable::find(std::uint64_t connection_id) {
  auto it = by_cid_.find(connection_id);
  return it == by_cid_.end() ? nullptr : &it->second;
}

Relay& RelayTable::add(std::uint64_t connection_id, std::uint64_t connector, std::uint64_t listener,
                       const crypto::NodeId& target, util::TimePoint now) {
  Relay& r = by_cid_[connection_id];
  r.connection_id = connection_id;
  r.connector = connector;
  r.listener = listener;
  r.target = target;
  r.active = false;
  r.created = now;
  r.last_activity = now;
  r.scheduled = now + pending_timeout_;
  queue_.emplace(r.scheduled, connection_id);
  return r;
}

void RelayTable::remove(std::uint64_t connection_id) { by_cid_.erase(connection_id); }

util::TimePoint RelayTable::next_expiry() const {
  return queue_.empty() ? util::kNever : queue_.top().first;
}

std::vector<Relay> RelayTable::take_expired(util::TimePoint now) {
  std::vector<Relay> out;
  while (!queue_.empty() && queue_.top().first <= now) {
    const auto [deadline, cid] = queue_.top();
    queue_.pop();
    auto it = by_cid_.find(cid);
    if (it == by_cid_.end() || it->second.scheduled != deadline) continue;  // Stale.
    Relay& r = it->second;
    // A pending relay's life counts from its creation: retransmitted CONNECTs
    // touch it, and must not keep an unaccepted relay alive forever.
    const util::TimePoint due =
        r.active ? r.last_activity + idle_timeout_ : r.created + pending_timeout_;
    if (due > now) {
      r.scheduled = due;
      queue_.emplace(due, cid);
      continue;
    }
    out.push_back(r);
    by_cid_.erase(it);
  }
  return out;
}

}  // namespace punch::rendezvous
