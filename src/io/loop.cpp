#include "io/loop.hpp"

#include "io/handle.hpp"
#include "util/assert.hpp"

namespace punch::io {

Loop::Loop() { PUNCH_ASSERT(uv_loop_init(&loop_) == 0); }

Loop::~Loop() { close_loop(&loop_); }

void Loop::run() { uv_run(&loop_, UV_RUN_DEFAULT); }

void Loop::stop() { uv_stop(&loop_); }

}  // namespace punch::io
