#include "io/core_driver.hpp"

#include <utility>

namespace punch::io {

CoreDriver::CoreDriver(Loop& loop, Hooks hooks, Flush flush)
    : hooks_(std::move(hooks)),
      timer_(loop, [this] { feed([this](util::TimePoint t) { hooks_.on_timeout(t); }); }) {
  if (flush == Flush::kOncePerIteration) pump_.emplace(loop, [this] { settle(now()); });
}

void CoreDriver::feed(const std::function<void(util::TimePoint)>& input) {
  if (closed_) return;
  const util::TimePoint t = now();
  input(t);
  if (pump_) {
    pump_->mark();
  } else {
    settle(t);
  }
}

void CoreDriver::mark() {
  if (closed_) return;
  if (pump_) {
    pump_->mark();
  } else {
    settle(now());
  }
}

void CoreDriver::arm() { settle(now()); }

void CoreDriver::settle(util::TimePoint t) {
  if (closed_) return;
  if (hooks_.after) hooks_.after(t);
  if (closed_) return;
  timer_.arm(hooks_.next_deadline(), t);
}

void CoreDriver::close() {
  if (closed_) return;
  closed_ = true;
  timer_.close();
  if (pump_) pump_->close();
}

}  // namespace punch::io
