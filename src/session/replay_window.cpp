#include "session/replay_window.hpp"

namespace punch::session {

bool ReplayWindow::accept(std::uint64_t pn) {
  if (!any_) {
    any_ = true;
    highest_ = pn;
    seen_.set(pn % kSize);
    return true;
  }
  if (pn > highest_) {
    const std::uint64_t advance = pn - highest_;
    if (advance >= kSize) {
      seen_.reset();
    } else {
      for (std::uint64_t i = highest_ + 1; i <= pn; ++i) seen_.reset(i % kSize);
    }
    highest_ = pn;
    seen_.set(pn % kSize);
    return true;
  }
  if (highest_ - pn >= kSize) return false;
  if (seen_.test(pn % kSize)) return false;
  seen_.set(pn % kSize);
  return true;
}

}  // namespace punch::session
