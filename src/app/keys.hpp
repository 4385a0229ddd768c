// Loading the node key for a command, creating it on first use where allowed.
#pragma once

#include <string>

#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "util/result.hpp"

namespace punch::app {

/// Loads the key at `path`; if there is none and `create` is set, makes one,
/// saves it (0600) and says so on stderr. Two processes creating the same key at
/// once both end up with the one that was saved first.
util::Result<crypto::Identity> load_identity(const std::string& path, bool create,
                                             crypto::RandomSource& rng);

/// Saves the freshly made key `made` at `path`; if a key appeared there meanwhile
/// (another punch created it first), loads and returns that one instead of failing.
util::Result<crypto::Identity> save_or_adopt(crypto::Identity made, const std::string& path);

}  // namespace punch::app
