#include "io/descriptor_limit.hpp"

#include <doctest/doctest.h>
#include <sys/resource.h>

namespace io = punch::io;

TEST_CASE("raise_descriptor_limit raises the soft limit up to the hard one, never lowers it") {
  rlimit before{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
  // Asking for less than the soft limit changes nothing.
  CHECK(io::raise_descriptor_limit(1) == before.rlim_cur);
  rlimit now{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &now) == 0);
  CHECK(now.rlim_cur == before.rlim_cur);

  // Asking for more gets at most the hard limit.
  const std::size_t wanted = static_cast<std::size_t>(before.rlim_cur) + 64;
  const std::size_t got = io::raise_descriptor_limit(wanted);
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &now) == 0);
  CHECK(got == now.rlim_cur);
  if (before.rlim_max == RLIM_INFINITY || before.rlim_max >= wanted) {
    CHECK(got == wanted);
  } else {
    CHECK(got == before.rlim_max);
  }
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &before) == 0);  // leave the test binary as it was
}
