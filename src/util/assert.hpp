// Local invariants: when one breaks, the program is wrong and must stop. Never use
// this for anything a peer or the network can cause; those are util::Error.
#pragma once

#include <cstdio>
#include <cstdlib>

/// Aborts with file and line when `cond` is false, in every build type.
#define PUNCH_ASSERT(cond)                                                                       \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "punch: invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)
