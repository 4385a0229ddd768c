// --events: JSON Lines for monitoring tools and tests, one object per event with
// "ts" (RFC 3339 UTC, milliseconds) and "event". Appended and flushed per line. A
// failed write (disk full, file system gone) is reported once on stderr: the events
// are lost, but the tunnel carries on.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
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
  /// Where the one warning about failed writes goes (stderr, through util::log_warn).
  using WarnFn = std::function<void(const std::string&)>;
  /// A log that reports its first failed write to `warn`.
  explicit EventLog(WarnFn warn = nullptr);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  /// Opens `path` for appending (nothing happens for an empty path).
  util::Status open(const std::string& path);
  /// Writes one event line; the first write that fails is reported, later ones are not.
  void emit(const std::string& event, const EventFields& fields = {});

 private:
  WarnFn warn_;
  std::string path_;
  std::FILE* file_ = nullptr;
  bool warned_ = false;
};

/// Escapes `s` as a JSON string literal, quotes included.
std::string json_string(const std::string& s);

}  // namespace punch::app
