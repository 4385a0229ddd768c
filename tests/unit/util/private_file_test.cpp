#include "util/private_file.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "test_files.hpp"

namespace punch::util {
namespace {

using punch::testing::TempDir;

std::string write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path;
}

}  // namespace

TEST_CASE("private file: a regular 0600 file of ours is read whole") {
  TempDir dir{"private-file-test"};
  const std::string path = write_file(dir.path + "/secret", "alice:s3cret\n", 0600);
  PrivateFileProblem problem = PrivateFileProblem::kOther;
  const auto r = read_private_file(path, 1024, "secret", &problem);
  REQUIRE(r.ok());
  CHECK(std::string(r->begin(), r->end()) == "alice:s3cret\n");
  CHECK(problem == PrivateFileProblem::kNone);
}

TEST_CASE("private file: group- or world-readable files are refused with the fix") {
  TempDir dir{"private-file-test"};
  for (const mode_t mode : {0640, 0604, 0660, 0610}) {
    CAPTURE(mode);
    const std::string path = write_file(dir.path + "/secret", "x", mode);
    const auto r = read_private_file(path, 1024, "--socks-user-file");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("--socks-user-file " + path + " is readable by others") == 0);
    CHECK(r.error().message.find("chmod 600 " + path) != std::string::npos);
  }
}

TEST_CASE("private file: a FIFO is refused at once instead of blocking the start") {
  // Issue 17: -k on a FIFO hung for good, waiting for a writer.
  TempDir dir{"private-file-test"};
  const std::string path = dir.path + "/fifo";
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  const auto r = read_private_file(path, 1024, "key file");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "key file " + path + " is not a regular file");
  const auto d = read_private_file(dir.path, 1024, "key file");  // a directory
  REQUIRE_FALSE(d.ok());
  CHECK(d.error().message == "key file " + dir.path + " is not a regular file");
}

TEST_CASE("private file: a file of another user is refused, even for root") {
  // Issue 17: root loaded a key another user owns (and so controls). ssh refuses that.
  struct stat st {};
  st.st_mode = S_IFREG | 0600;
  st.st_uid = 1000;
  CHECK(check_private_file(st, 1000, "/k", "key file").ok());
  const auto r = check_private_file(st, 0, "/k", "key file");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("key file /k belongs to user 1000, not to the user running punch "
                               "(0)") == 0);
  if (::geteuid() == 0) {
    // Root can stage the real thing: a 0600 file owned by nobody.
    TempDir dir{"private-file-test"};
    const std::string path = write_file(dir.path + "/key", "x", 0600);
    REQUIRE(::chown(path.c_str(), 65534, 65534) == 0);
    const auto real = read_private_file(path, 1024, "key file");
    REQUIRE_FALSE(real.ok());
    CHECK(real.error().message.find("belongs to user 65534") != std::string::npos);
  }
}

TEST_CASE("private file: missing and oversized files are told apart") {
  TempDir dir{"private-file-test"};
  PrivateFileProblem problem = PrivateFileProblem::kNone;
  const auto missing = read_private_file(dir.path + "/none", 1024, "key file", &problem);
  REQUIRE_FALSE(missing.ok());
  CHECK(problem == PrivateFileProblem::kMissing);
  const std::string big = write_file(dir.path + "/big", std::string(2000, 'x'), 0600);
  const auto r = read_private_file(big, 1024, "key file", &problem);
  REQUIRE_FALSE(r.ok());
  CHECK(problem == PrivateFileProblem::kOther);
  CHECK(r.error().message == "key file " + big + " is too large (over 1024 bytes)");
}

}  // namespace punch::util
