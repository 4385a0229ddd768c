// Ownership of libuv handles: a handle is freed only in its close callback
// (libuv's rule), so wrappers allocate it on the heap and hand it to uv_close.
#pragma once

#include <uv.h>

namespace punch::io {

/// Closes `handle` (if not already closing) and deletes it as `T` once libuv is done.
template <typename T>
void close_and_delete(T* handle) {
  auto* h = reinterpret_cast<uv_handle_t*>(handle);
  if (h == nullptr || uv_is_closing(h)) return;
  uv_close(h, [](uv_handle_t* closed) { delete reinterpret_cast<T*>(closed); });
}

/// Closes every handle still open on `loop`, runs the loop until they are gone and
/// closes it; returns uv_loop_close()'s result (0 when nothing leaked).
int close_loop(uv_loop_t* loop);

}  // namespace punch::io
