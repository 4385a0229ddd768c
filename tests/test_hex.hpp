// Hand-written hex fixtures as bytes, for the tests of every layer.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "util/bytes.hpp"

namespace punch::testing {

/// Bytes of a hand-written hex fixture; a typo in the fixture fails the test.
inline util::Bytes hex(const std::string& h) {
  bool ok = false;
  util::Bytes b = util::from_hex(h, &ok);
  REQUIRE(ok);
  return b;
}

}  // namespace punch::testing
