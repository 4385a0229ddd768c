#include "path/candidates.hpp"

namespace punch::path {

int preference_class(const wire::Candidate& c) {
  return c.kind == wire::CandidateKind::kHost ? 0 : 1;
}

const char* kind_name(wire::CandidateKind kind) {
  switch (kind) {
    case wire::CandidateKind::kHost:
      return "host";
    case wire::CandidateKind::kReflexive:
      return "reflexive";
    case wire::CandidateKind::kPeerReflexive:
      return "peer-reflexive";
  }
  return "?";
}

std::string describe(const std::vector<wire::Candidate>& list) {
  std::string s;
  for (const wire::Candidate& c : list) {
    if (!s.empty()) s += ", ";
    s += c.address.to_string() + " (" + kind_name(c.kind) + ")";
  }
  return s.empty() ? "none" : s;
}

}  // namespace punch::path
