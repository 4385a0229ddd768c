// The process's limit on open descriptors. The birthday prober opens up to 1,024
// extra sockets, and the usual soft limit is 1,024 while the hard limit is far
// higher; the soft one exists for old select() users, which punch is not (libuv
// uses epoll), so it may rise to what the prober needs, as Go's runtime does at
// start-up for every program.
#pragma once

#include <cstddef>

namespace punch::io {

/// Raises the soft RLIMIT_NOFILE to at least `wanted` descriptors, capped by the
/// hard limit, and never lowers it; returns the soft limit in force afterwards (0
/// when it cannot be read). A refusal leaves the old limit: sockets past it fail to
/// open, which their users survive.
std::size_t raise_descriptor_limit(std::size_t wanted);

}  // namespace punch::io
