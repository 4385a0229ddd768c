#include "path/mapping_check.hpp"

#include <algorithm>
#include <utility>

#include "wire/packet_type.hpp"

namespace punch::path {

MappingCheck::MappingCheck(crypto::RandomSource& rng, util::DatagramSink& sink)
    : rng_(&rng), sink_(&sink) {}

void MappingCheck::on_registered(const util::Address& server, const util::Address& reflexive,
                                 const std::vector<util::Address>& probe_addresses,
                                 const std::vector<util::Address>& local, util::TimePoint now) {
  // The main port gets no address probe: REGISTERED's reflexive address is its answer.
  std::vector<util::Address> destinations =
      resolve_probe_addresses(server, probe_addresses, {server});
  local_ = local;
  if (reflexive == reflexive_ && destinations == destinations_) return;
  reflexive_ = reflexive;
  destinations_ = std::move(destinations);
  running_.reset();
  if (destinations_.empty()) {
    // Nothing to compare with: the behaviour cannot be told, and an old verdict was
    // about another mapping.
    if (mapping_ != Mapping::kUnknown) changed_ = true;
    mapping_ = Mapping::kUnknown;
    return;
  }
  // The old verdict stays until the new one is in: a rebinding rarely changes the
  // NAT's kind, and flipping to unknown for a second would re-decide every session.
  running_ = std::make_unique<Netcheck>(*rng_, *sink_, destinations_, now);
}

bool MappingCheck::on_datagram(const util::Address& from, util::ByteView data,
                               util::TimePoint now) {
  if (data.empty() || data[0] != static_cast<std::uint8_t>(wire::PacketType::kAddressProbeReply))
    return false;
  if (running_) {
    running_->on_datagram(from, data, now);
    if (running_->done()) finish();
  }
  return true;
}

void MappingCheck::on_timeout(util::TimePoint now) {
  if (!running_) return;
  running_->on_timeout(now);
  if (running_->done()) finish();
}

util::TimePoint MappingCheck::next_deadline() const {
  return running_ ? running_->next_deadline() : util::kNever;
}

void MappingCheck::finish() {
  std::vector<std::optional<AddressProbeAnswer>> answers{AddressProbeAnswer{reflexive_, {}}};
  const auto& probed = running_->answers();
  answers.insert(answers.end(), probed.begin(), probed.end());
  running_.reset();
  // classify() sees "no NAT" when every answer is the local address: one of our
  // interface addresses, if the rendezvous saw that one; otherwise none matches.
  const auto it = std::find(local_.begin(), local_.end(), reflexive_);
  const util::Address local = it != local_.end() ? *it : util::Address{};
  // Unanswered address probes are left out by classify(): with none answered it says unknown
  // unless the one answer left is local.
  const Mapping m = classify(local, answers).mapping;
  if (m != mapping_) changed_ = true;
  mapping_ = m;
}

bool MappingCheck::take_changed() { return std::exchange(changed_, false); }

}  // namespace punch::path
