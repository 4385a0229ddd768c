#include "app/event_log.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "test_files.hpp"

using punch::app::EventFields;
using punch::app::EventLog;
using punch::app::json_string;

namespace {

using punch::testing::read_all;
using punch::testing::TempDir;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) lines.push_back(line);
  return lines;
}

// The current UTC time in the log's format, for bracketing a timestamp.
std::string utc_now_ms() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", date, static_cast<int>(ms));
  return out;
}

// True for RFC 3339 UTC with milliseconds, e.g. 2024-05-01T12:34:56.789Z.
bool is_rfc3339_utc_ms(const std::string& ts) {
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (ts.size() != kShape.size()) return false;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const bool ok = kShape[i] == 'd' ? ts[i] >= '0' && ts[i] <= '9' : ts[i] == kShape[i];
    if (!ok) return false;
  }
  return true;
}

// A line split into its timestamp and what follows "event": (the event and fields).
struct Line {
  std::string ts;
  std::string rest;
};

// Splits `line`, which must start with "ts" and then "event", or fails the test.
Line split(const std::string& line) {
  static const std::string kTs = "{\"ts\":\"";
  static const std::string kEvent = "\",\"event\":";
  REQUIRE(line.compare(0, kTs.size(), kTs) == 0);
  const std::size_t end = line.find('"', kTs.size());
  REQUIRE(end != std::string::npos);
  Line out{line.substr(kTs.size(), end - kTs.size()), ""};
  REQUIRE(line.compare(end, kEvent.size(), kEvent) == 0);
  out.rest = line.substr(end + kEvent.size());
  CHECK(is_rfc3339_utc_ms(out.ts));
  return out;
}

}  // namespace

TEST_CASE("EventLog writes one JSON object per line with ts and event first") {
  TempDir dir{"event-log-test"};
  const std::string path = dir.path + "/events.jsonl";
  const std::string before = utc_now_ms();
  {
    EventLog log;
    REQUIRE(log.open(path).ok());
    log.emit("session_up", EventFields{{"peer", std::string("abc")},
                                       {"rtt_ms", 1.5},
                                       {"bytes", std::int64_t{1234567890123}},
                                       {"delta", std::int64_t{-7}}});
    log.emit("session_down");
    // Flushed per line: visible before the log is closed.
    CHECK(read_lines(path).size() == 2);
  }
  const std::string after = utc_now_ms();

  const auto lines = read_lines(path);
  REQUIRE(lines.size() == 2);
  CHECK(read_all(path).back() == '\n');

  const Line first = split(lines[0]);
  CHECK(first.rest ==
        R"("session_up","peer":"abc","rtt_ms":1.500,"bytes":1234567890123,"delta":-7})");
  // RFC 3339 with fixed widths sorts as text, so UTC (not local time) lies between.
  CHECK(before <= first.ts);
  CHECK(first.ts <= after);

  const Line second = split(lines[1]);
  CHECK(second.rest == R"("session_down"})");
  CHECK(first.ts <= second.ts);
}

TEST_CASE("EventLog appends to an existing file") {
  TempDir dir{"event-log-test"};
  const std::string path = dir.path + "/events.jsonl";
  {
    std::ofstream f(path);
    f << "{\"earlier\":1}\n";
  }
  {
    EventLog log;
    REQUIRE(log.open(path).ok());
    log.emit("started");
  }
  const auto lines = read_lines(path);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "{\"earlier\":1}");
  CHECK(split(lines[1]).rest == R"("started"})");
}

TEST_CASE("EventLog escapes event names, field names and string values") {
  TempDir dir{"event-log-test"};
  const std::string path = dir.path + "/events.jsonl";
  {
    EventLog log;
    REQUIRE(log.open(path).ok());
    log.emit("a\"b", EventFields{{"k\\", std::string("line1\nline2")}});
  }
  const auto lines = read_lines(path);
  REQUIRE(lines.size() == 1);  // the newline in the value did not split the line
  CHECK(split(lines[0]).rest == R"("a\"b","k\\":"line1\nline2"})");
}

TEST_CASE("json_string escapes quotes, backslashes and control characters") {
  CHECK(json_string("") == R"("")");
  CHECK(json_string("plain text") == R"("plain text")");
  CHECK(json_string("say \"hi\"") == R"("say \"hi\"")");
  CHECK(json_string("C:\\dir") == R"("C:\\dir")");
  CHECK(json_string("a\nb") == R"("a\nb")");
  CHECK(json_string("a\rb\tc") == R"("a\rb\tc")");
  CHECK(json_string(std::string("\x01", 1)) == R"("\u0001")");
  CHECK(json_string(std::string("\x1f", 1)) == R"("\u001f")");
  CHECK(json_string(std::string("a\0b", 3)) == R"("a\u0000b")");
  CHECK(json_string("\x7f") == "\"\x7f\"");                // DEL needs no escape in JSON
  CHECK(json_string("caf\xc3\xa9") == "\"caf\xc3\xa9\"");  // UTF-8 passes through
}

TEST_CASE("EventLog with an empty path writes nothing") {
  TempDir dir{"event-log-test"};
  EventLog log;
  REQUIRE(log.open("").ok());
  log.emit("ignored", EventFields{{"n", std::int64_t{1}}});
  CHECK(std::filesystem::is_empty(dir.path));
}

TEST_CASE("EventLog open reports a path it cannot open") {
  TempDir dir{"event-log-test"};
  const std::string path = dir.path + "/no-such-dir/events.jsonl";
  EventLog log;
  const auto status = log.open(path);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find("cannot open events file " + path) != std::string::npos);
  log.emit("ignored");  // a failed open leaves a disabled log, not a crash
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("EventLog says once that writes fail, and carries on") {
  // Issue 17: with the disk full, --events lost every event without a word.
  std::vector<std::string> warnings;
  EventLog log([&](const std::string& m) { warnings.push_back(m); });
  REQUIRE(log.open("/dev/full").ok());  // opens fine; every write fails with ENOSPC
  for (int i = 0; i < 5; ++i) log.emit("path", {{"n", static_cast<std::int64_t>(i)}});
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("cannot write to the events file /dev/full") == 0);
  CHECK(warnings[0].find("No space left on device") != std::string::npos);
}

TEST_CASE("EventLog warns about nothing while writes succeed") {
  TempDir dir{"event-log-test"};
  std::vector<std::string> warnings;
  EventLog log([&](const std::string& m) { warnings.push_back(m); });
  REQUIRE(log.open(dir.path + "/events.jsonl").ok());
  for (int i = 0; i < 5; ++i) log.emit("path");
  CHECK(warnings.empty());
  CHECK(read_lines(dir.path + "/events.jsonl").size() == 5);
}
