// Scratch files for tests that read or write the file system.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace punch::testing {

/// A fresh directory under /tmp, removed with everything in it at scope exit.
struct TempDir {
  /// `name` goes into the directory's name, so a leftover says which test made it.
  explicit TempDir(const std::string& name) {
    std::string tmpl = "/tmp/punch-" + name + "-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
};

/// The whole content of the file at `path` (empty if it cannot be read).
inline std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace punch::testing
