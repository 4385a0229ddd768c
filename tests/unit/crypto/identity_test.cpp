#include "crypto/identity.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_files.hpp"
#include "unit/crypto/fixture_key.hpp"

using punch::crypto::Identity;
using punch::crypto::SeededRandom;
using punch::crypto::verify_signature;
namespace util = punch::util;

namespace {

using punch::crypto::testing::kFixtureId;
using punch::crypto::testing::kFixturePem;
using punch::crypto::testing::kFixtureSpki;
// `openssl dgst -sha256 -sign` of "punch fixture message" with that key.
constexpr char kFixtureSig[] =
    "304402207d0a94b4a24a957454bed0402fb60d3d138685009512319823daddceec0d43a00220"
    "1eeab7e7d3d11d87d62ce105be93a7ccece258b939959a359e4ce46e13e4b86f";

using punch::testing::TempDir;

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream f(path, std::ios::binary);
    f << text;
  }
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("Identity: generate gives a P-256 key whose ID hashes its SPKI") {
  SeededRandom rng(1);
  auto a = Identity::generate(rng);
  auto b = Identity::generate(rng);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->public_key_der().size() == 91);
  CHECK(a->id() == punch::crypto::NodeId::from_public_key(a->public_key_der()));
  CHECK(a->id() != b->id());
}

TEST_CASE("Identity: save then load round-trips, file is 0600, parents 0700") {
  TempDir dir{"identity-test"};
  SeededRandom rng(2);
  auto id = Identity::generate(rng);
  REQUIRE(id.ok());
  const std::string path = dir.path + "/a/b/key";
  auto st = id->save(path, false);
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
  CHECK(mode_of(path) == 0600);
  CHECK(mode_of(dir.path + "/a") == 0700);
  CHECK(mode_of(dir.path + "/a/b") == 0700);
  CHECK(read_file(path).rfind("-----BEGIN EC PRIVATE KEY-----", 0) == 0);

  auto loaded = Identity::load(path);
  REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
  CHECK(loaded->id() == id->id());
  CHECK(loaded->public_key_der() == id->public_key_der());
  // The loaded private key really is the same key: it signs for the saved one.
  const auto sig = loaded->sign(util::as_bytes("hello"), rng);
  CHECK(verify_signature(id->public_key_der(), util::as_bytes("hello"), sig));
}

TEST_CASE("Identity: save refuses to overwrite without force, replaces with force") {
  TempDir dir{"identity-test"};
  SeededRandom rng(3);
  auto first = Identity::generate(rng);
  auto second = Identity::generate(rng);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  const std::string path = dir.path + "/key";
  REQUIRE(first->save(path, false).ok());

  auto st = second->save(path, false);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().message == "key file " + path + " exists (use --force to replace it)");
  CHECK(Identity::load(path)->id() == first->id());

  REQUIRE(second->save(path, true).ok());
  CHECK(mode_of(path) == 0600);
  CHECK(Identity::load(path)->id() == second->id());
  // No temporary file is left beside the key.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path)) ++entries;
  CHECK(entries == 1);
}

TEST_CASE("Identity: load refuses a key readable by group or others") {
  TempDir dir{"identity-test"};
  const std::string path = dir.path + "/key";
  write_file(path, kFixturePem, 0644);
  auto r = Identity::load(path);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message ==
        "key file " + path + " is readable by others (mode 0644); run: chmod 600 " + path);

  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  CHECK_FALSE(Identity::load(path).ok());
  REQUIRE(::chmod(path.c_str(), 0604) == 0);
  CHECK_FALSE(Identity::load(path).ok());
  REQUIRE(::chmod(path.c_str(), 0400) == 0);
  CHECK(Identity::load(path).ok());
}

TEST_CASE("Identity: load refuses a FIFO at once and a key of another user") {
  // Issue 17: -k on a FIFO hung waiting for a writer; root loaded another user's key.
  TempDir dir{"identity-test"};
  const std::string fifo = dir.path + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto r = Identity::load(fifo);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "key file " + fifo + " is not a regular file");
  if (::geteuid() == 0) {
    const std::string path = dir.path + "/key";
    write_file(path, kFixturePem, 0600);
    REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
    auto theirs = Identity::load(path);
    REQUIRE_FALSE(theirs.ok());
    CHECK(theirs.error().message.find("belongs to user 65534") != std::string::npos);
  }
}

TEST_CASE("Identity: load of the openssl fixture gives the independently computed ID") {
  TempDir dir{"identity-test"};
  const std::string path = dir.path + "/key";
  write_file(path, kFixturePem, 0600);
  auto r = Identity::load(path);
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
  CHECK(r->id().to_string() == kFixtureId);
  CHECK(util::to_hex(r->public_key_der()) == kFixtureSpki);
}

TEST_CASE("Identity: load reports missing and unparsable files by path") {
  TempDir dir{"identity-test"};
  const std::string missing = dir.path + "/nope";
  auto r = Identity::load(missing);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "no key at " + missing + " (create one with: punch keygen)");

  const std::string junk = dir.path + "/junk";
  write_file(junk, "this is not a key\n", 0600);
  auto j = Identity::load(junk);
  REQUIRE_FALSE(j.ok());
  CHECK(j.error().message.find("key file " + junk + " does not hold a usable private key") == 0);

  const std::string empty = dir.path + "/empty";
  write_file(empty, "", 0600);
  CHECK_FALSE(Identity::load(empty).ok());

  // A directory is not a key file (and must not be mistaken for one).
  CHECK_FALSE(Identity::load(dir.path).ok());
}

TEST_CASE("sign/verify: valid signatures verify; tampering and garbage keys do not") {
  SeededRandom rng(4);
  auto id = Identity::generate(rng);
  auto other = Identity::generate(rng);
  REQUIRE(id.ok());
  REQUIRE(other.ok());
  const auto msg = util::as_bytes("punch-register-v1 something");
  auto sig = id->sign(msg, rng);
  CHECK(verify_signature(id->public_key_der(), msg, sig));

  CHECK_FALSE(
      verify_signature(id->public_key_der(), util::as_bytes("punch-register-v1 somethinG"), sig));
  CHECK_FALSE(verify_signature(other->public_key_der(), msg, sig));
  auto bad_sig = sig;
  bad_sig[bad_sig.size() - 1] ^= 1;
  CHECK_FALSE(verify_signature(id->public_key_der(), msg, bad_sig));
  CHECK_FALSE(verify_signature(id->public_key_der(), msg, {}));
  CHECK_FALSE(verify_signature({}, msg, sig));
  auto bad_key = id->public_key_der();
  bad_key.resize(bad_key.size() - 3);
  CHECK_FALSE(verify_signature(bad_key, msg, sig));
  auto long_key = id->public_key_der();
  long_key.push_back(0);
  CHECK_FALSE(verify_signature(long_key, msg, sig));
  const std::uint8_t garbage[91] = {0x30, 0x59, 0x30, 0x13};
  CHECK_FALSE(verify_signature(garbage, msg, sig));
}

TEST_CASE("verify_signature: accepts an openssl-made signature (cross-implementation)") {
  bool ok1 = false, ok2 = false;
  const auto spki = util::from_hex(kFixtureSpki, &ok1);
  const auto sig = util::from_hex(kFixtureSig, &ok2);
  REQUIRE(ok1);
  REQUIRE(ok2);
  CHECK(verify_signature(spki, util::as_bytes("punch fixture message"), sig));
  CHECK_FALSE(verify_signature(spki, util::as_bytes("punch fixture messagE"), sig));
}

TEST_CASE("Identity: certificate is made once and names the ID") {
  SeededRandom rng(5);
  auto id = Identity::generate(rng);
  REQUIRE(id.ok());
  const auto& first = id->certificate(rng);
  CHECK_FALSE(first.empty());
  CHECK(&id->certificate(rng) == &first);
  // The CN travels in the DER as plain UTF8String/PrintableString bytes.
  const std::string der(first.begin(), first.end());
  CHECK(der.find(id->id().to_string()) != std::string::npos);
}
