#include "app/keys.hpp"

#include <sys/stat.h>

#include <cerrno>

#include "util/log.hpp"

namespace punch::app {

util::Result<crypto::Identity> save_or_adopt(crypto::Identity made, const std::string& path) {
  auto saved = made.save(path, false);
  if (saved) {
    util::log_info("created a new key at " + path + " (ID " + made.id().to_string() + ")");
    return made;
  }
  // Lost a race with another punch creating the key: take its key, as the user meant
  // one key. The key appears whole (Identity::save links a complete file into place).
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return saved.error();
  return crypto::Identity::load(path);
}

util::Result<crypto::Identity> load_identity(const std::string& path, bool create,
                                             crypto::RandomSource& rng) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT && create) {
    auto made = crypto::Identity::generate(rng);
    if (!made) return made.error();
    return save_or_adopt(std::move(*made), path);
  }
  return crypto::Identity::load(path);
}

}  // namespace punch::app
