#include "cli/environment.hpp"

#include <cstdlib>

namespace punch::cli {

namespace {

std::string get(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

Environment environment_from_process() {
  return Environment{get("HOME"), get("PUNCH_HOME"), get("PUNCH_RENDEZVOUS")};
}

}  // namespace punch::cli
