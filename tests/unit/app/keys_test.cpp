#include "app/keys.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "test_files.hpp"

using punch::app::load_identity;
using punch::crypto::SeededRandom;

namespace {

using punch::testing::read_all;
using punch::testing::TempDir;

}  // namespace

TEST_CASE("load_identity creates a key on first use and loads it afterwards") {
  TempDir dir{"keys-test"};
  const std::string path = dir.path + "/key";
  SeededRandom rng(1);
  const auto created = load_identity(path, true, rng);
  REQUIRE(created.ok());
  REQUIRE(std::filesystem::exists(path));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string pem = read_all(path);
  CHECK_FALSE(pem.empty());

  // A second load, even with create set and another generator, reads the same key.
  SeededRandom other(2);
  const auto again = load_identity(path, true, other);
  REQUIRE(again.ok());
  CHECK(again->id() == created->id());
  CHECK(read_all(path) == pem);

  const auto plain = load_identity(path, false, other);
  REQUIRE(plain.ok());
  CHECK(plain->id() == created->id());
}

TEST_CASE("load_identity refuses to create a key when create is false") {
  TempDir dir{"keys-test"};
  const std::string path = dir.path + "/key";
  SeededRandom rng(1);
  const auto r = load_identity(path, false, rng);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find(path) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("load_identity generates the key from the given random source") {
  TempDir dir{"keys-test"};
  SeededRandom a1(42);
  SeededRandom a2(42);
  SeededRandom b(43);
  const auto first = load_identity(dir.path + "/a1", true, a1);
  const auto second = load_identity(dir.path + "/a2", true, a2);
  const auto third = load_identity(dir.path + "/b", true, b);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  REQUIRE(third.ok());
  CHECK(first->id() == second->id());
  CHECK(first->id() != third->id());
}

TEST_CASE("load_identity does not overwrite an unreadable key file") {
  TempDir dir{"keys-test"};
  const std::string path = dir.path + "/key";
  {
    std::ofstream f(path);
    f << "not a key\n";
  }
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  SeededRandom rng(1);
  const auto r = load_identity(path, true, rng);
  CHECK_FALSE(r.ok());
  CHECK(read_all(path) == "not a key\n");
}

TEST_CASE("load_identity creates missing parent directories, private to the user") {
  TempDir dir{"keys-test"};
  const std::string parent = dir.path + "/config/punch";
  const std::string path = parent + "/key";
  SeededRandom rng(1);
  const auto r = load_identity(path, true, rng);
  REQUIRE(r.ok());
  struct stat st {};
  REQUIRE(::stat(parent.c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK((st.st_mode & 0077) == 0);
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("load_identity reports a key path it cannot create") {
  TempDir dir{"keys-test"};
  const std::string blocker = dir.path + "/file";
  {
    std::ofstream f(blocker);
    f << "a file, not a directory\n";
  }
  const std::string path = blocker + "/key";
  SeededRandom rng(1);
  const auto r = load_identity(path, true, rng);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find(blocker) != std::string::npos);
  CHECK(read_all(blocker) == "a file, not a directory\n");
}

TEST_CASE("save_or_adopt takes the key another process saved first") {
  // Issue 17: two processes creating the same key at once; the loser was told to use
  // --force (which would have replaced the winner's key). Now it adopts that key.
  TempDir dir{"keys-test"};
  const std::string path = dir.path + "/key";
  SeededRandom rng(1);
  auto winner = punch::crypto::Identity::generate(rng);
  auto loser = punch::crypto::Identity::generate(rng);
  REQUIRE(winner.ok());
  REQUIRE(loser.ok());
  REQUIRE(winner->save(path, false).ok());
  const std::string pem = read_all(path);
  const auto adopted = punch::app::save_or_adopt(std::move(*loser), path);
  REQUIRE_MESSAGE(adopted.ok(), (adopted.ok() ? "" : adopted.error().message));
  CHECK(adopted->id() == winner->id());
  CHECK(read_all(path) == pem);  // the winner's key stays
  // Nothing but the key is left in the directory (no temporary files).
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path)) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("load_identity: processes creating one key at once all end up with the same key") {
  constexpr int kRounds = 20;
  constexpr int kThreads = 6;
  for (int round = 0; round < kRounds; ++round) {
    TempDir dir{"keys-test"};
    const std::string path = dir.path + "/key";
    std::vector<std::string> ids(kThreads);
    std::vector<std::string> errors(kThreads);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        SeededRandom rng(static_cast<std::uint64_t>(round * kThreads + t + 1));
        ready.fetch_add(1);
        while (ready.load() < kThreads) {
        }  // start together, so their existence checks overlap
        const auto r = load_identity(path, true, rng);
        if (r.ok()) {
          ids[t] = r->id().to_string();
        } else {
          errors[t] = r.error().message;
        }
      });
    }
    for (std::thread& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
      CAPTURE(round);
      CAPTURE(t);
      CHECK(errors[t].empty());
      CHECK(ids[t] == ids[0]);
    }
  }
}
