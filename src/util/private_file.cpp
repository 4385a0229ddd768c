#include "util/private_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace punch::util {

namespace {

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

Status check_private_file(const struct stat& st, uid_t euid, const std::string& path,
                          const std::string& what) {
  if (!S_ISREG(st.st_mode)) return Error{what + " " + path + " is not a regular file"};
  if (st.st_uid != euid) {
    return Error{what + " " + path + " belongs to user " + std::to_string(st.st_uid) +
                 ", not to the user running punch (" + std::to_string(euid) +
                 "); whoever owns it could change it"};
  }
  if ((st.st_mode & 077) != 0) {
    return Error{what + " " + path + " is readable by others (mode " + octal_mode(st.st_mode) +
                 "); run: chmod 600 " + path};
  }
  return ok_status();
}

Result<Bytes> read_private_file(const std::string& path, std::size_t max_size,
                                const std::string& what, PrivateFileProblem* problem) {
  if (problem != nullptr) *problem = PrivateFileProblem::kOther;
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT && problem != nullptr) *problem = PrivateFileProblem::kMissing;
    return Error{"cannot read " + what + " " + path + ": " + std::strerror(err)};
  }
  // Check the file we opened, not whatever the path names by now.
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Error{"cannot stat " + what + " " + path + ": " + std::strerror(err)};
  }
  if (auto ok = check_private_file(st, ::geteuid(), path, what); !ok) {
    ::close(fd);
    return ok.error();
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    ::close(fd);
    return Error{what + " " + path + " is too large (over " + std::to_string(max_size) + " bytes)"};
  }
  Bytes data(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Error{"cannot read " + what + " " + path + ": " + std::strerror(err)};
    }
    if (n == 0) break;  // shrank meanwhile
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  data.resize(got);
  if (problem != nullptr) *problem = PrivateFileProblem::kNone;
  return data;
}

}  // namespace punch::util
