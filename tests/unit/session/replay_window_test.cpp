#include "session/replay_window.hpp"

#include <doctest/doctest.h>

using punch::session::ReplayWindow;

TEST_CASE("the replay window accepts each packet number once, in any order") {
  ReplayWindow w;
  CHECK(w.accept(100));
  CHECK_FALSE(w.accept(100));
  CHECK(w.accept(98));
  CHECK(w.accept(101));
  CHECK(w.accept(99));
  CHECK_FALSE(w.accept(98));
  CHECK_FALSE(w.accept(99));
  CHECK_FALSE(w.accept(101));
}

TEST_CASE("the replay window refuses numbers too old to tell and forgets nothing inside it") {
  ReplayWindow w;
  CHECK(w.accept(5000));
  CHECK(w.accept(5000 - ReplayWindow::kSize + 1));
  CHECK_FALSE(w.accept(5000 - ReplayWindow::kSize));
  // A jump of more than the window clears it: old numbers are then too old.
  CHECK(w.accept(5000 + 3 * ReplayWindow::kSize));
  CHECK_FALSE(w.accept(5000));
  CHECK(w.accept(5000 + 3 * ReplayWindow::kSize - 1));
  // Bits of numbers that slid out are cleared for the numbers that reuse them.
  ReplayWindow v;
  CHECK(v.accept(1));
  CHECK(v.accept(1 + ReplayWindow::kSize));
  CHECK_FALSE(v.accept(1));
  CHECK(v.accept(2 + ReplayWindow::kSize));
}

TEST_CASE("the replay window works at the top of the path packet number space") {
  ReplayWindow w;
  const std::uint64_t base = std::uint64_t{1} << 63;
  CHECK(w.accept(base));
  CHECK(w.accept(base + 1));
  CHECK_FALSE(w.accept(base));
}
