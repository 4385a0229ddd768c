// `punch netcheck`: the netcheck core (path::Netcheck) on one UDP socket, then
// its verdict for people or as one JSON object (docs/netcheck.md).
#pragma once

#include <string>

#include "app/config.hpp"
#include "path/nat_classification.hpp"

namespace punch::app {

/// Runs the check; returns the exit code (0 answered, 1 nothing answered, 2 bad input).
int run_netcheck(const NetcheckConfig& config);

/// The --json object for `report` (one line, no newline): destinations, local address and verdict.
std::string netcheck_json(const path::NatReport& report, const std::string& rendezvous,
                          const std::string& probe, const std::string& local);

/// The lines for people (each ending in a newline) for `report`.
std::string netcheck_text(const path::NatReport& report, const std::string& rendezvous,
                          const std::string& probe, const std::string& local);

}  // namespace punch::app
