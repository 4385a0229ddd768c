#include "io/handle.hpp"

namespace punch::io {

int close_loop(uv_loop_t* loop) {
  // Handles still open here belong to wrappers that were not destroyed (a bug),
  // or to libuv itself; closing them lets the loop close cleanly either way.
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop);
}

}  // namespace punch::io
