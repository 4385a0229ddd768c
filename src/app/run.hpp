// Runs one command until it finishes; the only entry point main() needs.
#pragma once

#include "app/config.hpp"

namespace punch::app {

/// Runs `command`; returns the process exit code (0 on success, non-zero with a
/// one-line reason already printed on stderr otherwise).
int run(const Command& command);

}  // namespace punch::app
