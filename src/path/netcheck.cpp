#include "path/netcheck.hpp"

#include <algorithm>

#include "path/constants.hpp"

namespace punch::path {

Netcheck::Netcheck(crypto::RandomSource& rng, util::DatagramSink& sink,
                   std::vector<util::Address> destinations, util::TimePoint now)
    : rng_(rng),
      sink_(sink),
      destinations_(std::move(destinations)),
      answers_(destinations_.size()),
      next_send_(destinations_.size(), now),
      gap_(destinations_.size(), kNetcheckFirstRetry),
      give_up_(now + kNetcheckTimeout) {
  // Every destination gets its first probe at once: the verdict compares them, and
  // probes sent back to back see the NAT in one state.
  for (std::size_t i = 0; i < destinations_.size(); ++i) send_probe(i, now);
  check_done();
}

void Netcheck::send_probe(std::size_t destination, util::TimePoint now) {
  // A fresh nonce per probe: the reply tells exactly which probe it answers (so
  // the RTT is never measured against a retransmission), and an off-path sender
  // cannot forge an answer without seeing the probe.
  wire::Nonce nonce{};
  rng_.fill(nonce);
  in_flight_[nonce] = Sent{destination, now};
  out_.clear();
  wire::encode(wire::Probe{nonce}, out_);
  sink_.send(destinations_[destination], out_);
  ++probes_sent_;
  next_send_[destination] = now + gap_[destination];
  gap_[destination] = std::min(gap_[destination] * 2, kNetcheckMaxRetry);
}

void Netcheck::on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now) {
  if (done_) return;
  const auto reply = wire::decode_probe_reply(data);
  if (!reply) return;
  const auto it = in_flight_.find(reply->nonce);
  if (it == in_flight_.end()) return;
  const Sent sent = it->second;
  // The answer must come from the port we asked: a reply from elsewhere would
  // make the two destinations indistinguishable and the verdict meaningless.
  if (from != destinations_[sent.destination]) return;
  in_flight_.erase(it);
  if (!answers_[sent.destination]) {
    answers_[sent.destination] = ProbeAnswer{reply->observed, now - sent.at};
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
    if (!answers_[i] && next_send_[i] <= now) send_probe(i, now);
  }
}

util::TimePoint Netcheck::next_deadline() const {
  if (done_) return util::kNever;
  util::TimePoint next = give_up_;
  for (std::size_t i = 0; i < destinations_.size(); ++i) {
    if (!answers_[i]) next = std::min(next, next_send_[i]);
  }
  return next;
}

void Netcheck::check_done() {
  done_ = std::all_of(answers_.begin(), answers_.end(),
                      [](const std::optional<ProbeAnswer>& a) { return a.has_value(); });
}

}  // namespace punch::path
