// `punch rendezvous`: the rendezvous core on a UDP socket until SIGINT/SIGTERM.
#pragma once

#include "app/config.hpp"

namespace punch::app {

/// Runs the rendezvous server; returns the exit code.
int run_rendezvous(const RendezvousConfig& config);

}  // namespace punch::app
