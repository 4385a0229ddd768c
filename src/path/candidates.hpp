// Small facts about candidate addresses shared by the parts of the path manager.
#pragma once

#include <string>
#include <vector>

#include "wire/path_frame.hpp"

namespace punch::path {

/// 0 for host candidates (LAN paths, preferred), 1 for anything through a NAT's public side.
int preference_class(const wire::Candidate& c);

/// The name of `kind` in events and logs: "host", "reflexive", "peer-reflexive".
const char* kind_name(wire::CandidateKind kind);

/// `list` for people: "address (kind), ...", or "none".
std::string describe(const std::vector<wire::Candidate>& list);

}  // namespace punch::path
