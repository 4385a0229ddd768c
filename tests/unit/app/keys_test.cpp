#include "app/keys.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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
