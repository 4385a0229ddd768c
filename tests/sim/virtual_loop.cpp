#include "sim/virtual_loop.hpp"

#include <algorithm>
#include <utility>

namespace punch::sim {

VirtualLoop::VirtualLoop(const LoopConfig& config, LoopModel model)
    : config_(config), model_(std::move(model)), now_(config.start) {}

void VirtualLoop::at(util::TimePoint at, std::function<void()> action) {
  actions_.emplace(at, std::move(action));
}

util::TimePoint VirtualLoop::next_event() const {
  util::TimePoint next = model_.next_event();
  if (!actions_.empty()) next = std::min(next, actions_.begin()->first);
  return next;
}

bool VirtualLoop::run_until(const std::function<bool()>& done, util::Duration limit) {
  const util::TimePoint end = limit >= util::kNever - now_ ? util::kNever : now_ + limit;
  model_.flush();
  while (!done()) {
    if (config_.flush_after_check) model_.flush();
    if (++events_ > config_.event_cap) {
      cap_hit_ = true;
      return false;
    }
    const util::TimePoint next = next_event();
    if (next == util::kNever && !config_.idle_reaches_limit) return false;
    if (next > end || next == util::kNever) {
      if (end != util::kNever) now_ = end;
      return false;
    }
    now_ = std::max(now_, next);
    while (!actions_.empty() && actions_.begin()->first <= now_) {
      auto action = std::move(actions_.begin()->second);
      actions_.erase(actions_.begin());
      action();
    }
    model_.step();
    model_.flush();
  }
  return true;
}

bool VirtualLoop::run_to(util::TimePoint t) {
  if (t > now_) run_until([] { return false; }, t - now_);
  return !cap_hit_;
}

}  // namespace punch::sim
