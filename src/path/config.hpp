// The direct-path choices a session takes from the command line, apart from the
// path manager so the parts it composes (the birthday budget and guesser) need not
// include it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "path/constants.hpp"

namespace punch::path {

/// How the birthday paradox guesses (docs/birthday.md; defaults in path/constants.hpp).
struct BirthdayConfig {
  std::size_t sockets = kBirthdaySockets;  ///< --birthday-sockets: hard side's sockets.
  std::uint32_t rate = kBirthdayRate;      ///< --birthday-rate: guesses per second, at most.
  /// --birthday-probes: guesses per round (the option keeps its old name).
  std::uint32_t guesses = kBirthdayGuesses;
};

/// Per-session choices from the command line.
struct PathConfig {
  bool relay_only = false;  ///< Never challenge, never go direct (--relay-only).
  BirthdayConfig birthday;  ///< Port guessing against a hard NAT.
};

}  // namespace punch::path
