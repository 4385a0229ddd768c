#include "path/netcheck.hpp"

#include <algorithm>

#include "path/constants.hpp"
#include "wire/packet_type.hpp"

namespace punch::path {

std::vector<util::Address> resolve_probe_addresses(const util::Address& server,
                                                   const std::vector<util::Address>& announced,
                                                   const std::vector<util::Address>& skip) {
  std::vector<util::Address> out;
  for (util::Address a : announced) {
    if (a.family != server.family || a.port == 0) continue;
    // The rendezvous may listen on a wildcard address and not know which of its IPs
    // we reached; the all-zero IP means that one.
    if (std::all_of(a.ip.begin(), a.ip.end(), [](std::uint8_t b) { return b == 0; }))
      a.ip = server.ip;
    if (std::find(skip.begin(), skip.end(), a) != skip.end()) continue;
    if (std::find(out.begin(), out.end(), a) != out.end()) continue;
    out.push_back(a);
  }
  return out;
}

Netcheck::Netcheck(crypto::RandomSource& rng, util::DatagramSink& sink,
                   std::vector<util::Address> destinations, util::TimePoint now, bool ask_for_more)
    : rng_(rng),
      sink_(sink),
      destinations_(std::move(destinations)),
      answers_(destinations_.size()),
      next_send_(destinations_.size(), now),
      gap_(destinations_.size(), kNetcheckFirstRetry),
      give_up_(now + kNetcheckTimeout) {
  // Every destination gets its first address probe at once: the verdict compares them,
  // and address probes sent back to back see the NAT in one state.
  for (std::size_t i = 0; i < destinations_.size(); ++i) send_address_probe(i, now);
  if (ask_for_more && !destinations_.empty()) {
    list_pending_ = true;
    list_gap_ = kNetcheckFirstRetry;
    send_list_request(now);
  }
  check_done();
}

void Netcheck::send_list_request(util::TimePoint now) {
  wire::Nonce nonce{};
  rng_.fill(nonce);
  list_nonces_.push_back(nonce);
  out_.clear();
  wire::encode(wire::ProbeAddressListRequest{nonce}, out_);
  sink_.send(destinations_.front(), out_);
  list_next_send_ = now + list_gap_;
  list_gap_ = std::min(list_gap_ * 2, kNetcheckMaxRetry);
}

void Netcheck::on_probe_address_list(const util::Address& from, util::ByteView data,
                                     util::TimePoint now) {
  if (!list_pending_ || from != destinations_.front()) return;
  const auto list = wire::decode_probe_address_list(data);
  if (!list ||
      std::find(list_nonces_.begin(), list_nonces_.end(), list->nonce) == list_nonces_.end())
    return;
  list_pending_ = false;
  // New destinations are probed at once; their answers compare with the others' as
  // well as any: the NAT has had no reason to change its mind in one round trip.
  for (const util::Address& a :
       resolve_probe_addresses(destinations_.front(), list->probe_addresses, destinations_)) {
    destinations_.push_back(a);
    answers_.emplace_back();
    next_send_.push_back(now);
    gap_.push_back(kNetcheckFirstRetry);
    send_address_probe(destinations_.size() - 1, now);
  }
}

void Netcheck::send_address_probe(std::size_t destination, util::TimePoint now) {
  // A fresh nonce per address probe: the reply tells exactly which one it answers (so
  // the RTT is never measured against a retransmission), and an off-path sender
  // cannot forge an answer without seeing the probe.
  wire::Nonce nonce{};
  rng_.fill(nonce);
  in_flight_[nonce] = Sent{destination, now};
  out_.clear();
  wire::encode(wire::AddressProbe{nonce}, out_);
  sink_.send(destinations_[destination], out_);
  ++address_probes_sent_;
  next_send_[destination] = now + gap_[destination];
  gap_[destination] = std::min(gap_[destination] * 2, kNetcheckMaxRetry);
}

void Netcheck::on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now) {
  if (done_) return;
  if (!data.empty() && data[0] == static_cast<std::uint8_t>(wire::PacketType::kProbeAddressList)) {
    on_probe_address_list(from, data, now);
    check_done();
    return;
  }
  const auto reply = wire::decode_address_probe_reply(data);
  if (!reply) return;
  const auto it = in_flight_.find(reply->nonce);
  if (it == in_flight_.end()) return;
  const Sent sent = it->second;
  // The answer must come from the port we asked: a reply from elsewhere would
  // make the two destinations indistinguishable and the verdict meaningless.
  if (from != destinations_[sent.destination]) return;
  in_flight_.erase(it);
  if (!answers_[sent.destination]) {
    answers_[sent.destination] = AddressProbeAnswer{reply->observed, now - sent.at};
  }
  check_done();
}

void Netcheck::on_timeout(util::TimePoint now) {
  if (done_) return;
  if (now >= give_up_) {
    done_ = true;
    return;
  }
  for (std::size_t i = 0; i < destinations_.size(); ++i) {
    if (!answers_[i] && next_send_[i] <= now) send_address_probe(i, now);
  }
  if (list_pending_ && list_next_send_ <= now) send_list_request(now);
}

util::TimePoint Netcheck::next_deadline() const {
  if (done_) return util::kNever;
  util::TimePoint next = give_up_;
  for (std::size_t i = 0; i < destinations_.size(); ++i) {
    if (!answers_[i]) next = std::min(next, next_send_[i]);
  }
  if (list_pending_) next = std::min(next, list_next_send_);
  return next;
}

void Netcheck::check_done() {
  done_ = !list_pending_ &&
          std::all_of(answers_.begin(), answers_.end(),
                      [](const std::optional<AddressProbeAnswer>& a) { return a.has_value(); });
}

}  // namespace punch::path
