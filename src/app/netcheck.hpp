// `punch netcheck`: the netcheck core (path::Netcheck) on one UDP socket, then
// its verdict for people or as one JSON object (docs/netcheck.md).
#pragma once

#include <string>
#include <vector>

#include "app/config.hpp"
#include "path/nat_classification.hpp"

namespace punch::app {

/// Runs the check; returns the exit code (0 answered, 1 nothing answered, 2 bad input).
int run_netcheck(const NetcheckConfig& config);

/// The --json object for `report` (one line, no newline): destinations, local address and
/// verdict; `other_probe_addresses` are the probe addresses the rendezvous listed beyond
/// `probe_port`, whose answers follow the first two in `report.reflexive`.
std::string netcheck_json(const path::NatReport& report, const std::string& rendezvous,
                          const std::string& probe_port, const std::string& local,
                          const std::vector<std::string>& other_probe_addresses = {});

/// The lines for people (each ending in a newline) for `report`; `other_probe_addresses` as for
/// netcheck_json().
std::string netcheck_text(const path::NatReport& report, const std::string& rendezvous,
                          const std::string& probe_port, const std::string& local,
                          const std::vector<std::string>& other_probe_addresses = {});

}  // namespace punch::app
