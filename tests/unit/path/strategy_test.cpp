#include "path/strategy.hpp"

#include <doctest/doctest.h>

#include <string>

namespace path = punch::path;
using path::Mapping;
using path::Strategy;

TEST_CASE("strategy: the whole decision table, symmetric") {
  constexpr Mapping U = Mapping::kUnknown, N = Mapping::kNone, I = Mapping::kEndpointIndependent,
                    D = Mapping::kEndpointDependent, V = Mapping::kAddressVaries;
  constexpr Strategy d = Strategy::kDirect, b = Strategy::kBirthday, r = Strategy::kRelay;
  const Mapping order[] = {U, N, I, D, V};
  // Rows: our mapping; columns: the peer's, in `order`.
  const Strategy table[5][5] = {
      /* unknown */ {d, d, d, d, d},
      /* none    */ {d, d, d, b, b},
      /* easy    */ {d, d, d, b, r},
      /* hard    */ {d, b, b, r, r},
      /* pool    */ {d, b, r, r, r},
  };
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 5; ++j) {
      CAPTURE(path::mapping_token(order[i]));
      CAPTURE(path::mapping_token(order[j]));
      CHECK(path::choose_strategy(order[i], order[j]) == table[i][j]);
      CHECK(path::choose_strategy(order[j], order[i]) == table[i][j]);
    }
  }
}

TEST_CASE("strategy: tokens as in --events") {
  CHECK(path::strategy_token(Strategy::kDirect) == "direct");
  CHECK(path::strategy_token(Strategy::kBirthday) == "birthday");
  CHECK(path::strategy_token(Strategy::kRelay) == "relay");
}

TEST_CASE("strategy: which mappings are unpredictable") {
  CHECK_FALSE(path::unpredictable(Mapping::kUnknown));
  CHECK_FALSE(path::unpredictable(Mapping::kNone));
  CHECK_FALSE(path::unpredictable(Mapping::kEndpointIndependent));
  CHECK(path::unpredictable(Mapping::kEndpointDependent));
  CHECK(path::unpredictable(Mapping::kAddressVaries));
}
