#include "app/keys.hpp"

#include <sys/stat.h>

#include "util/log.hpp"

namespace punch::app {

util::Result<crypto::Identity> load_identity(const std::string& path, bool create,
                                             crypto::RandomSource& rng) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT && create) {
    auto made = crypto::Identity::generate(rng);
    if (!made) return made.error();
    if (auto saved = made->save(path, false); !saved) return saved.error();
    util::log_info("created a new key at " + path + " (ID " + made->id().to_string() + ")");
    return made;
  }
  return crypto::Identity::load(path);
}

}  // namespace punch::app
