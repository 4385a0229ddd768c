// Human-readable diagnostics on stderr. Machine-readable events go through
// --events (app/event_log), never through here.
#pragma once

#include <string_view>

namespace punch::util {

/// Verbosity, lowest first; messages above the current level are dropped.
enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

/// Sets the process-wide verbosity (from -q / -v).
void set_log_level(LogLevel level);
/// Current verbosity.
LogLevel log_level();
/// Writes "punch: <msg>" to stderr when `level` is enabled.
void log(LogLevel level, std::string_view msg);

/// Logs at error level.
inline void log_error(std::string_view m) { log(LogLevel::kError, m); }
/// Logs at warning level.
inline void log_warn(std::string_view m) { log(LogLevel::kWarn, m); }
/// Logs at info level.
inline void log_info(std::string_view m) { log(LogLevel::kInfo, m); }
/// Logs at debug level.
inline void log_debug(std::string_view m) { log(LogLevel::kDebug, m); }

}  // namespace punch::util
