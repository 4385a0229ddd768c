// `punch listen` and `punch connect`: an Endpoint on a UDP socket, with stdio
// bridged to the first stream of a session.
#pragma once

#include "app/config.hpp"

namespace punch::app {

/// Runs a listener; returns the exit code.
int run_listen(const ListenConfig& config);
/// Runs a connector; returns the exit code.
int run_connect(const ConnectConfig& config);

}  // namespace punch::app
