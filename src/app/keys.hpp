// Loading the node key for a command, creating it on first use where allowed.
#pragma once

#include <string>

#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "util/result.hpp"

namespace punch::app {

/// Loads the key at `path`; if there is none and `create` is set, makes one,
/// saves it (0600) and says so on stderr.
util::Result<crypto::Identity> load_identity(const std::string& path, bool create,
                                             crypto::RandomSource& rng);

}  // namespace punch::app
