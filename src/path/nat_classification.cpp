#include "path/nat_classification.hpp"

#include <algorithm>

namespace punch::path {

NatReport classify(const util::Address& local,
                   const std::vector<std::optional<AddressProbeAnswer>>& answers) {
  NatReport report;
  std::vector<util::Address> seen;
  for (const auto& a : answers) {
    report.reflexive.push_back(a ? std::optional(a->reflexive) : std::nullopt);
    if (!a) continue;
    seen.push_back(a->reflexive);
    report.rtt = report.rtt ? std::min(*report.rtt, a->rtt) : a->rtt;
  }
  report.udp = !seen.empty();
  if (!report.udp) return report;
  report.port_preserved = std::all_of(seen.begin(), seen.end(),
                                      [&](const util::Address& r) { return r.port == local.port; });
  // No NAT is visible from one answer already: nobody else would have our address.
  if (std::all_of(seen.begin(), seen.end(), [&](const util::Address& r) { return r == local; })) {
    report.mapping = Mapping::kNone;
    return report;
  }
  if (seen.size() < 2) return report;  // A NAT, but one mapping tells nothing about the next.
  const util::Address& first = seen.front();
  const auto same_ip = [&](const util::Address& r) {
    return r.family == first.family && r.ip == first.ip;
  };
  if (std::all_of(seen.begin(), seen.end(), [&](const util::Address& r) { return r == first; })) {
    report.mapping = Mapping::kEndpointIndependent;
  } else if (std::all_of(seen.begin(), seen.end(), same_ip)) {
    report.mapping = Mapping::kEndpointDependent;
  } else {
    report.mapping = Mapping::kAddressVaries;
  }
  return report;
}

std::string mapping_token(Mapping m) {
  switch (m) {
    case Mapping::kNone:
      return "none";
    case Mapping::kEndpointIndependent:
      return "endpoint-independent";
    case Mapping::kEndpointDependent:
      return "endpoint-dependent";
    case Mapping::kAddressVaries:
      return "address-varies";
    case Mapping::kUnknown:
      break;
  }
  return "unknown";
}

std::string mapping_description(Mapping m) {
  switch (m) {
    case Mapping::kNone:
      return "none (no NAT: the rendezvous sees the local address)";
    case Mapping::kEndpointIndependent:
      return "endpoint-independent (easy NAT: one public address for every destination)";
    case Mapping::kEndpointDependent:
      return "endpoint-dependent (hard NAT: a new public port per destination)";
    case Mapping::kAddressVaries:
      return "address varies (pool NAT: a different public address per destination)";
    case Mapping::kUnknown:
      break;
  }
  return "unknown (only one destination answered; nothing to compare)";
}

}  // namespace punch::path
