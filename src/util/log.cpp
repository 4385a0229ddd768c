#include "util/log.hpp"

#include <cstdio>
#include <string>

namespace punch::util {

namespace {
LogLevel g_level = LogLevel::kInfo;
}  // namespace

void set_log_level(LogLevel level) { g_level = level; }

LogLevel log_level() { return g_level; }

void log(LogLevel level, std::string_view msg) {
  if (level > g_level) return;
  std::string line = "punch: ";
  line.append(msg);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace punch::util
