#include "app/event_log.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <utility>

#include "util/log.hpp"

namespace punch::app {

namespace {
std::string rfc3339_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // generous: the compiler cannot bound tm's fields
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}
}  // namespace

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

EventLog::EventLog(WarnFn warn) : warn_(std::move(warn)) {
  if (!warn_) warn_ = [](const std::string& message) { util::log_warn(message); };
}

EventLog::~EventLog() {
  if (file_) std::fclose(file_);
}

util::Status EventLog::open(const std::string& path) {
  if (path.empty()) return util::ok_status();
  path_ = path;
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) return util::Error{"cannot open events file " + path + ": " + std::strerror(errno)};
  return util::ok_status();
}

void EventLog::emit(const std::string& event, const EventFields& fields) {
  if (!file_) return;
  std::string line = "{\"ts\":\"" + rfc3339_now() + "\",\"event\":" + json_string(event);
  for (const auto& [name, value] : fields) {
    line += "," + json_string(name) + ":";
    if (const auto* s = std::get_if<std::string>(&value)) {
      line += json_string(*s);
    } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
      line += std::to_string(*i);
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", std::get<double>(value));
      line += buf;
    }
  }
  line += "}\n";
  errno = 0;
  const bool written = std::fwrite(line.data(), 1, line.size(), file_) == line.size();
  const bool flushed = std::fflush(file_) == 0;
  if ((written && flushed) || warned_) return;
  // Once: a full disk would otherwise repeat this for every event.
  warned_ = true;
  const int err = errno;
  warn_("cannot write to the events file " + path_ + " (" +
        (err != 0 ? std::string(std::strerror(err)) : std::string("write failed")) +
        "); events are being lost");
  std::clearerr(file_);
}

}  // namespace punch::app
