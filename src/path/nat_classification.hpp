// What `punch netcheck` concludes from the answers to its address probes: whether
// UDP works, how the NAT maps (RFC 4787 terms), whether it keeps the local port,
// and the round-trip time. A pure function of its inputs, so every verdict is
// unit-tested with fabricated answers (docs/netcheck.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "util/address.hpp"
#include "util/time.hpp"

namespace punch::path {

/// How the NAT in front of us maps one local socket to outside addresses.
enum class Mapping {
  kUnknown,              ///< Fewer than two destinations answered: nothing to compare.
  kNone,                 ///< Every destination saw our local address: no NAT.
  kEndpointIndependent,  ///< One outside address for every destination ("easy" NAT).
  kEndpointDependent,    ///< Same outside IP, another port for some destination ("hard" NAT).
  kAddressVaries,        ///< Another outside IP for some destination (an address pool).
};

/// The answer of one address-probe destination (the rendezvous's main port, its probe port, or
/// a probe address on another of its IPs).
struct AddressProbeAnswer {
  util::Address reflexive;  ///< The source address the destination saw.
  util::Duration rtt{};     ///< From sending the address probe to its reply.
};

/// The verdict; `answers` keeps the destination order the caller used.
struct NatReport {
  bool udp = false;  ///< At least one destination answered.
  /// Per destination, in the caller's order: the address it saw, or nullopt.
  std::vector<std::optional<util::Address>> reflexive;
  /// How the NAT maps, as far as the answers tell.
  Mapping mapping = Mapping::kUnknown;
  /// Every reflexive port equals the local port; nullopt when nothing answered.
  std::optional<bool> port_preserved;
  /// Smallest round-trip time over the answers; nullopt when nothing answered.
  std::optional<util::Duration> rtt;
};

/// Classifies the answers of the address-probe destinations (nullopt: no answer) for the
/// socket bound at `local` (the address the kernel sends from, with its port).
NatReport classify(const util::Address& local,
                   const std::vector<std::optional<AddressProbeAnswer>>& answers);

/// A stable token for `m`, as in the --json output: "unknown", "none",
/// "endpoint-independent", "endpoint-dependent", "address-varies".
std::string mapping_token(Mapping m);

/// A short explanation of `m` for people, e.g. "endpoint-dependent (hard NAT: ...)".
std::string mapping_description(Mapping m);

}  // namespace punch::path
