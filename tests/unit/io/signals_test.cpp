#include "io/signals.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <vector>

#include "test_loop.hpp"

namespace punch::io {

TEST_CASE("Signals: SIGHUP ends punch like SIGTERM, unless nohup ignored it") {
  // Issue 17: SIGHUP (a closed terminal or ssh session) killed punch by default, so the
  // peer learned of it only from the 30 s idle timeout; now shutdown runs on the loop.
  if (Signals::hangup_ignored_at_start()) {
    MESSAGE("SIGHUP is ignored in this test run (nohup): nothing to watch");
    return;
  }
  test::TestLoop loop;
  std::vector<int> seen;
  {
    Signals signals(loop.get(), [&](int signum) { seen.push_back(signum); });
    REQUIRE(std::raise(SIGHUP) == 0);
    CHECK(loop.run_until([&] { return !seen.empty(); }));
    REQUIRE(std::raise(SIGTERM) == 0);
    CHECK(loop.run_until([&] { return seen.size() == 2; }));
    signals.close();
  }
  CHECK(seen == std::vector<int>{SIGHUP, SIGTERM});
  CHECK(loop.close() == 0);
}

}  // namespace punch::io
