// --events: JSON Lines for monitoring tools and tests, one object per event with
// "ts" (RFC 3339 UTC, milliseconds) and "event". Appended and flushed per line.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "util/result.hpp"

namespace punch::app {

/// One field of an event: a string, an integer or a real number.
using EventValue = std::variant<std::string, std::int64_t, double>;
/// Named fields, written in this order after ts and event.
using EventFields = std::vector<std::pair<std::string, EventValue>>;

/// Appends events to a file; a disabled log (no path) ignores them.
class EventLog {
 public:
  EventLog() = default;
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  /// Opens `path` for appending (nothing happens for an empty path).
  util::Status open(const std::string& path);
  /// Writes one event line.
  void emit(const std::string& event, const EventFields& fields = {});

 private:
  std::FILE* file_ = nullptr;
};

/// Escapes `s` as a JSON string literal, quotes included.
std::string json_string(const std::string& s);

}  // namespace punch::app
