// An endpoint's own NAT mapping behaviour, learnt while it is registered: the
// reflexive address REGISTERED reports (what the rendezvous's main port saw) is
// compared with the answers to PROBEs sent from the same socket to every probe
// address REGISTERED names (the probe port on the rendezvous's IP, and probe sockets
// on its other IPs), by the netcheck logic (Netcheck for the address probes, classify() for
// the verdict). Checked again whenever the reflexive address or the probe addresses
// change.
// Sans-I/O: the address probes leave through the endpoint's sink; time comes in.
#pragma once

#include <memory>
#include <vector>

#include "crypto/random.hpp"
#include "path/nat_classification.hpp"
#include "path/netcheck.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"
#include "util/datagram_sink.hpp"
#include "util/time.hpp"

namespace punch::path {

/// Learns how our NAT maps the endpoint's one socket.
class MappingCheck {
 public:
  /// Sends through `sink` with randomness from `rng`; both must outlive the check.
  MappingCheck(crypto::RandomSource& rng, util::DatagramSink& sink);

  /// We are registered at `server` and it saw us at `reflexive`; `probe_addresses`
  /// are REGISTERED's (an all-zero IP stands for the server's; other families are
  /// skipped), `local` our interface addresses with the socket's port. Starts a check
  /// when the reflexive address or the probe addresses are new.
  void on_registered(const util::Address& server, const util::Address& reflexive,
                     const std::vector<util::Address>& probe_addresses,
                     const std::vector<util::Address>& local, util::TimePoint now);
  /// Offers a datagram from `from`; true when it was a PROBE_REPLY (consumed here).
  bool on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now);
  /// Retransmits address probes and ends the check at its deadline.
  void on_timeout(util::TimePoint now);
  /// When on_timeout() must next run; kNever when no check is running.
  util::TimePoint next_deadline() const;
  /// The behaviour learnt; kUnknown until a check answered (or without probe addresses).
  Mapping mapping() const { return mapping_; }
  /// True once after mapping() changed.
  bool take_changed();

 private:
  void finish();

  crypto::RandomSource* rng_;
  util::DatagramSink* sink_;
  util::Address reflexive_;
  std::vector<util::Address> destinations_;
  std::vector<util::Address> local_;
  std::unique_ptr<Netcheck> running_;
  Mapping mapping_ = Mapping::kUnknown;
  bool changed_ = false;
};

}  // namespace punch::path
