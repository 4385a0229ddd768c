#include "cli/environment.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <optional>
#include <string>

using punch::cli::environment_from_process;

namespace {

// Sets or unsets one variable and restores its old value at scope exit.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    if (value != nullptr) {
      REQUIRE(::setenv(name, value, 1) == 0);
    } else {
      REQUIRE(::unsetenv(name) == 0);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("environment_from_process reads HOME, PUNCH_HOME and PUNCH_RENDEZVOUS") {
  ScopedEnv home("HOME", "/home/tester");
  ScopedEnv punch_home("PUNCH_HOME", "/etc/punch test");
  ScopedEnv rendezvous("PUNCH_RENDEZVOUS", "rv.example.org:7777");
  const auto env = environment_from_process();
  CHECK(env.home == "/home/tester");
  CHECK(env.punch_home == "/etc/punch test");
  CHECK(env.punch_rendezvous == "rv.example.org:7777");
}

TEST_CASE("environment_from_process gives empty strings for unset variables") {
  ScopedEnv home("HOME", nullptr);
  ScopedEnv punch_home("PUNCH_HOME", nullptr);
  ScopedEnv rendezvous("PUNCH_RENDEZVOUS", nullptr);
  const auto env = environment_from_process();
  CHECK(env.home.empty());
  CHECK(env.punch_home.empty());
  CHECK(env.punch_rendezvous.empty());
}

TEST_CASE("environment_from_process reflects later changes and set-but-empty values") {
  ScopedEnv punch_home("PUNCH_HOME", "/first");
  ScopedEnv rendezvous("PUNCH_RENDEZVOUS", "");
  CHECK(environment_from_process().punch_home == "/first");
  CHECK(environment_from_process().punch_rendezvous.empty());
  REQUIRE(::setenv("PUNCH_HOME", "/second", 1) == 0);
  CHECK(environment_from_process().punch_home == "/second");
  REQUIRE(::unsetenv("PUNCH_HOME") == 0);
  CHECK(environment_from_process().punch_home.empty());
}

TEST_CASE("environment_from_process leaves the process environment as it was") {
  ScopedEnv home("HOME", "/h");
  (void)environment_from_process();
  const char* after = ::getenv("HOME");
  REQUIRE(after != nullptr);
  CHECK(std::string(after) == "/h");
}
