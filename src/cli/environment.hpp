// The parts of the process environment the command line depends on, as plain
// data, so parse() is a pure function of argv and this struct.
#pragma once

#include <string>

namespace punch::cli {

/// Environment variables cli/ reads; an empty string means unset.
struct Environment {
  std::string home;              ///< $HOME, for ~/.config/punch.
  std::string punch_home;        ///< $PUNCH_HOME: directory of key and authorized_peers.
  std::string punch_rendezvous;  ///< $PUNCH_RENDEZVOUS: default for -r.
};

/// Reads HOME, PUNCH_HOME and PUNCH_RENDEZVOUS from the process environment.
Environment environment_from_process();

}  // namespace punch::cli
