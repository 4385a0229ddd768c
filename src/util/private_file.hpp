// Reading a file that holds a secret (the node key, the SOCKS5 password) as ssh
// reads private keys: only a regular file (a FIFO or a device would hang or never
// end; it is opened without blocking to find out), owned by the user running punch
// (root too must not use a key another user controls), and unreadable by group and
// others; and never more than a stated size.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <string>

#include "util/bytes.hpp"
#include "util/result.hpp"

namespace punch::util {

/// What read_private_file() found wrong, besides the message.
enum class PrivateFileProblem {
  kNone,
  kMissing,  ///< No file at the path (the caller may offer to create one).
  kOther,    ///< Anything else; the message says what.
};

/// Checks a stat of `path` (`what` names it in messages, e.g. "key file") for a
/// secret read by effective user `euid`: a regular file of `euid`'s, without group or
/// other permission bits.
Status check_private_file(const struct stat& st, uid_t euid, const std::string& path,
                          const std::string& what);

/// Reads all of `path` if check_private_file() passes on the opened file and it holds
/// at most `max_size` bytes; errors name `what` and `path`. `problem`, if given, tells
/// a missing file apart. The caller should wipe the bytes once used.
Result<Bytes> read_private_file(const std::string& path, std::size_t max_size,
                                const std::string& what, PrivateFileProblem* problem = nullptr);

}  // namespace punch::util
