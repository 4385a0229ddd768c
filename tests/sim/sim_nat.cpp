#include "sim/sim_nat.hpp"

#include "util/assert.hpp"

namespace punch::sim {

namespace {

// Random draws before giving up on a free port: the table would have to hold tens
// of thousands of flows to one destination for this to fail.
constexpr int kPortAttempts = 1 << 16;

util::Address without_port(util::Address a) {
  a.port = 0;
  return a;
}

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

const char* to_string(NatType type) {
  switch (type) {
    case NatType::kOpen:
      return "open";
    case NatType::kFirewall:
      return "firewall";
    case NatType::kEasy:
      return "easy";
    case NatType::kHard:
      return "hard";
    case NatType::kPool:
      return "pool";
    case NatType::kUdpBlock:
      return "udpblock";
  }
  return "?";
}

const char* to_string(PortAllocation allocation) {
  switch (allocation) {
    case PortAllocation::kRandom:
      return "random";
    case PortAllocation::kSequential:
      return "sequential";
  }
  return "?";
}

bool translates(NatType type) {
  return type == NatType::kEasy || type == NatType::kHard || type == NatType::kPool;
}

Nat::Nat(NatConfig config) : config_(std::move(config)), rng_(mix(config_.seed)) {
  PUNCH_ASSERT(config_.first_port > 0 && config_.first_port <= config_.last_port);
  config_.wan = without_port(config_.wan);
  for (auto& a : config_.pool) a = without_port(a);
}

bool Nat::owns(const util::Address& ip) const {
  const util::Address key = without_port(ip);
  if (key == config_.wan) return true;
  for (const auto& a : config_.pool)
    if (a == key) return true;
  return false;
}

const ConntrackEntry* Nat::find(const FlowTuple& t) const {
  const auto it = index_.find(t);
  return it == index_.end() ? nullptr : &entries_.at(it->second);
}

Nat::EntryId Nat::add(const ConntrackEntry& e, util::TimePoint now) {
  const EntryId id = next_id_++;
  ConntrackEntry& stored = entries_[id] = e;
  stored.created = now;
  refresh(stored, now);
  index_[stored.original] = id;
  index_[stored.reply] = id;
  ++stats_.created;
  return id;
}

void Nat::refresh(ConntrackEntry& e, util::TimePoint now) const {
  // As nf_conntrack_udp_packet(): a replied flow gets the stream timeout only from
  // packets more than 2 s after its creation; a flow that went quiet right after its
  // first exchange keeps the short one (the lab measured this too).
  const bool stream = e.seen_reply && now - e.created > std::chrono::seconds(2);
  e.expires = now + (stream ? config_.udp_timeout_stream : config_.udp_timeout);
}

bool Nat::taken(const util::Address& external, const util::Address& dst) const {
  // nf_nat_used_tuple: the new flow's reply tuple must not be any entry's tuple, in
  // either direction. An unsolicited inbound entry has exactly this reply tuple as
  // its original one, which is trap 1.
  return index_.contains(FlowTuple{dst, external});
}

util::Address Nat::pool_address(const util::Address& src, const util::Address& dst) const {
  // Linux picks the address by hashing source and destination IPs (find_best_ips_proto),
  // not at random: one host reaches one destination IP from one pool address.
  std::uint64_t h = mix(config_.seed);
  for (std::size_t i = 0; i < 16; ++i) h = mix(h ^ (std::uint64_t{src.ip[i]} << 8 | dst.ip[i]));
  if (config_.pool_by_port) h = mix(h ^ dst.port);
  return config_.pool[h % config_.pool.size()];
}

std::optional<util::Address> Nat::allocate(const util::Address& src, const util::Address& dst) {
  if (config_.type == NatType::kEasy) {
    util::Address keep = config_.wan;
    const auto moved = moved_.find(src);
    keep.port = moved == moved_.end() ? src.port : moved->second;
    const bool clash = taken(keep, dst);
    if (!clash && !retired_.contains(keep)) return keep;
    if (clash) ++stats_.clashes;
  }
  util::Address external = config_.type == NatType::kPool && !config_.pool.empty()
                               ? pool_address(src, dst)
                               : config_.wan;
  if (config_.allocation == PortAllocation::kSequential) {
    const int first = config_.first_port;
    const int span = config_.last_port - first + 1;
    if (next_port_ == 0)
      next_port_ = static_cast<std::uint16_t>(
          std::uniform_int_distribution<int>(first, first + span - 1)(rng_));
    // Every port of the range once, from the one after the last allocation: a taken
    // port (a clash, or a retired one) is skipped, not retried at random.
    for (int i = 0; i < span; ++i) {
      external.port = static_cast<std::uint16_t>(first + (next_port_ - first + i) % span);
      if (!usable(external, dst)) continue;
      next_port_ = static_cast<std::uint16_t>(first + (external.port - first + 1) % span);
      return external;
    }
    return std::nullopt;
  }
  std::uniform_int_distribution<int> port(config_.first_port, config_.last_port);
  for (int i = 0; i < kPortAttempts; ++i) {
    external.port = static_cast<std::uint16_t>(port(rng_));
    if (usable(external, dst)) return external;
  }
  return std::nullopt;
}

bool Nat::usable(const util::Address& external, const util::Address& dst) const {
  return !taken(external, dst) && !retired_.contains(external);
}

std::optional<util::Address> Nat::outbound(const util::Address& src, const util::Address& dst,
                                           util::TimePoint now) {
  expire(now);
  if (config_.type == NatType::kOpen) {
    ++stats_.forwarded;
    return src;
  }
  if (config_.type == NatType::kUdpBlock) {
    ++stats_.dropped_filter;
    return std::nullopt;
  }
  const FlowTuple t{src, dst};
  if (const auto it = index_.find(t); it != index_.end()) {
    ConntrackEntry& e = entries_.at(it->second);
    const bool is_original = e.original == t;
    if (!is_original) e.seen_reply = true;
    refresh(e, now);
    // A datagram of the original direction leaves as the reply tuple's destination;
    // one of the reply direction as the original's destination.
    const util::Address out = is_original ? e.reply.dst : e.original.dst;
    ++stats_.forwarded;
    if (out != src) ++stats_.translated;
    return out;
  }
  std::optional<util::Address> external =
      config_.type == NatType::kFirewall ? std::optional(src) : allocate(src, dst);
  if (!external) {
    ++stats_.dropped_filter;
    return std::nullopt;
  }
  add(ConntrackEntry{.original = t, .reply = FlowTuple{dst, *external}}, now);
  ++stats_.forwarded;
  if (*external != src) ++stats_.translated;
  return external;
}

std::optional<util::Address> Nat::inbound(const util::Address& src, const util::Address& dst,
                                          util::TimePoint now) {
  expire(now);
  if (config_.type == NatType::kOpen) {
    ++stats_.forwarded;
    return dst;
  }
  if (config_.type == NatType::kUdpBlock) {
    ++stats_.dropped_filter;
    return std::nullopt;
  }
  const FlowTuple t{src, dst};
  if (const auto it = index_.find(t); it != index_.end()) {
    ConntrackEntry& e = entries_.at(it->second);
    if (e.reply == t) {
      e.seen_reply = true;
      refresh(e, now);
      ++stats_.forwarded;
      if (e.original.src != dst) ++stats_.translated;
      return e.original.src;
    }
    // More of an unsolicited flow: it keeps its entry alive and still finds no socket.
    refresh(e, now);
    ++stats_.dropped_local;
    return std::nullopt;
  }
  if (translates(config_.type) && owns(dst)) {
    // No mapping: the datagram is for the router itself. Input has no drop rule, so
    // conntrack confirms the entry although no socket takes the datagram.
    add(ConntrackEntry{.original = t, .reply = FlowTuple{dst, src}, .local = true}, now);
    ++stats_.dropped_local;
    return std::nullopt;
  }
  ++stats_.dropped_filter;
  return std::nullopt;
}

bool Nat::is_reply(const util::Address& src, const util::Address& dst, util::TimePoint now) const {
  const FlowTuple t{src, dst};
  const ConntrackEntry* e = find(t);
  return e != nullptr && e->reply == t && e->expires > now;
}

void Nat::flush() {
  entries_.clear();
  index_.clear();
}

void Nat::rebind() {
  for (const auto& [id, e] : entries_)
    if (!e.local) retired_.insert(e.reply.dst);
  if (config_.type == NatType::kEasy) {
    // A port that leaves with masquerade's rule intact: one new port per socket, kept
    // for every destination, so the mapping stays endpoint-independent.
    std::uniform_int_distribution<int> port(config_.first_port, config_.last_port);
    std::set<util::Address> done;
    for (const auto& [id, e] : entries_) {
      if (e.local || !done.insert(e.original.src).second) continue;
      util::Address fresh = config_.wan;
      do {
        fresh.port = static_cast<std::uint16_t>(port(rng_));
      } while (retired_.contains(fresh));
      moved_[e.original.src] = fresh.port;
    }
  }
  flush();
}

void Nat::expire(util::TimePoint now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.expires <= now) {
      index_.erase(it->second.original);
      index_.erase(it->second.reply);
      it = entries_.erase(it);
      ++stats_.expired;
    } else {
      ++it;
    }
  }
}

void Nat::set_timeouts(util::Duration unreplied, util::Duration stream) {
  config_.udp_timeout = unreplied;
  config_.udp_timeout_stream = stream;
}

std::vector<ConntrackEntry> Nat::entries() const {
  std::vector<ConntrackEntry> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) out.push_back(e);
  return out;
}

std::optional<util::Address> Nat::mapping(const util::Address& src,
                                          const util::Address& dst) const {
  const FlowTuple t{src, dst};
  const ConntrackEntry* e = find(t);
  if (e == nullptr || e->original != t) return std::nullopt;
  return e->reply.dst;
}

}  // namespace punch::sim
