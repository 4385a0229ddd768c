#include "io/descriptor_limit.hpp"

#include <sys/resource.h>

namespace punch::io {

std::size_t raise_descriptor_limit(std::size_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= wanted) {
    return static_cast<std::size_t>(limit.rlim_cur);
  }
  rlimit raised = limit;
  raised.rlim_cur = limit.rlim_max == RLIM_INFINITY || limit.rlim_max >= wanted
                        ? static_cast<rlim_t>(wanted)
                        : limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) return static_cast<std::size_t>(limit.rlim_cur);
  return static_cast<std::size_t>(raised.rlim_cur);
}

}  // namespace punch::io
