// The sans-I/O core of `punch netcheck`: from one local socket, sends address
// probes (PROBE, docs/protocol.md) to each destination (the rendezvous's main port
// and its probe port), retransmits unanswered ones with backoff, and collects the
// first answer of each. classify() (nat_classification.hpp) turns the answers into
// a verdict. Bounded: it is done when every destination answered or after
// kNetcheckTimeout, whichever comes first.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <vector>

#include "crypto/random.hpp"
#include "path/nat_classification.hpp"
#include "util/address.hpp"
#include "util/bytes.hpp"
#include "util/datagram_sink.hpp"
#include "util/time.hpp"
#include "wire/rendezvous_message.hpp"

namespace punch::path {

/// The destinations a list of probe addresses (REGISTERED's or PROBE_LIST's) stands
/// for, seen from a client of the rendezvous at `server`: an all-zero IP made the
/// server's, other families dropped (one socket cannot reach them), and the addresses
/// in `skip` (e.g. the main port, already asked) and repeats dropped.
std::vector<util::Address> resolve_probe_addresses(const util::Address& server,
                                                   const std::vector<util::Address>& announced,
                                                   const std::vector<util::Address>& skip);

/// Sends address probes to a list of destinations and records who saw us where.
class Netcheck {
 public:
  /// Sends address probes to `destinations` (each a rendezvous port) through `sink`, starting at
  /// `now`; `rng` and `sink` must outlive the check. With `ask_for_more`, it also asks
  /// the first destination (the rendezvous's main port) for its probe addresses
  /// (PROBE_LIST_REQUEST, retried as an address probe is) and probes those it did not have
  /// yet.
  Netcheck(crypto::RandomSource& rng, util::DatagramSink& sink,
           std::vector<util::Address> destinations, util::TimePoint now, bool ask_for_more = false);

  /// Handles one received datagram: a PROBE_REPLY carrying the nonce of an address probe we
  /// sent, from the very address we sent it to, is an answer; anything else is ignored.
  void on_datagram(const util::Address& from, util::ByteView data, util::TimePoint now);
  /// Retransmits what is due and ends the check at its deadline.
  void on_timeout(util::TimePoint now);
  /// When on_timeout() must next run; kNever once done.
  util::TimePoint next_deadline() const;
  /// True once every destination answered (and the list, if asked for) or the time is up.
  bool done() const { return done_; }
  /// The destinations: those given, then those the rendezvous listed, in its order.
  const std::vector<util::Address>& destinations() const { return destinations_; }
  /// The first answer of each destination, in the order of destinations(); nullopt: none (yet).
  const std::vector<std::optional<AddressProbeAnswer>>& answers() const { return answers_; }
  /// Address probes sent so far, retransmissions included.
  std::size_t address_probes_sent() const { return address_probes_sent_; }

 private:
  /// An address probe in flight: which destination, and when it left.
  struct Sent {
    std::size_t destination = 0;
    util::TimePoint at;
  };

  void send_address_probe(std::size_t destination, util::TimePoint now);
  void send_list_request(util::TimePoint now);
  void on_probe_address_list(const util::Address& from, util::ByteView data, util::TimePoint now);
  void check_done();

  crypto::RandomSource& rng_;
  util::DatagramSink& sink_;
  std::vector<util::Address> destinations_;
  std::vector<std::optional<AddressProbeAnswer>> answers_;
  std::vector<util::TimePoint> next_send_;
  std::vector<util::Duration> gap_;
  std::map<wire::Nonce, Sent> in_flight_;
  util::TimePoint give_up_;
  std::size_t address_probes_sent_ = 0;
  bool done_ = false;
  // The probe address list: asked for, not yet answered; the nonces of the requests
  // sent (each retransmission has its own, as address probes do); when to ask again.
  bool list_pending_ = false;
  std::vector<wire::Nonce> list_nonces_;
  util::TimePoint list_next_send_;
  util::Duration list_gap_{};
  util::Bytes out_;
};

}  // namespace punch::path
