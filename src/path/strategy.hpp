// How a session pair looks for a direct path, chosen from the two ends' NAT mapping
// behaviours (docs/direct_path.md, "Strategy"). A pure function, so the whole
// decision table is unit-tested.
#pragma once

#include <string>

#include "path/nat_classification.hpp"

namespace punch::path {

/// What a session does about a direct path.
enum class Strategy {
  kDirect,    ///< Challenge rounds to the candidates (docs/direct_path.md).
  kBirthday,  ///< One end's port is unpredictable: guess it (docs/birthday.md), and challenge.
  kRelay,     ///< Hopeless: no challenge rounds at all, the relay carries the session.
};

/// True for mappings whose outside port towards a new destination nobody can know in
/// advance: endpoint-dependent and address-varies.
bool unpredictable(Mapping m);

/// The strategy for a pair whose ends map as `local` and `peer`; symmetric, so both
/// ends decide the same. Unknown on either side decides kDirect (as before mappings
/// were measured).
Strategy choose_strategy(Mapping local, Mapping peer);

/// A stable token for `s`, as in --events: "direct", "birthday", "relay".
std::string strategy_token(Strategy s);

}  // namespace punch::path
