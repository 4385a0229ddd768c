#include "io/timer.hpp"

#include <chrono>

#include "io/handle.hpp"
#include "util/assert.hpp"

namespace punch::io {

util::TimePoint now() { return std::chrono::steady_clock::now(); }

Timer::Timer(uv_loop_t* loop, std::function<void()> fire)
    : handle_(new uv_timer_t), fire_(std::move(fire)) {
  PUNCH_ASSERT(uv_timer_init(loop, handle_) == 0);
  handle_->data = this;
}

Timer::~Timer() { close(); }

void Timer::arm(util::TimePoint deadline, util::TimePoint current) {
  if (handle_ == nullptr) return;
  if (deadline == util::kNever) {
    uv_timer_stop(handle_);
    armed_ = util::kNever;
    return;
  }
  if (deadline == armed_ && uv_is_active(reinterpret_cast<uv_handle_t*>(handle_))) return;
  armed_ = deadline;
  start(deadline > current ? deadline - current : util::Duration{0});
}

void Timer::start(util::Duration wait) {
  // libuv timers have millisecond resolution on a loop clock truncated from the
  // monotonic one, so they can run up to a millisecond early; the callback
  // checks and waits out the rest rather than firing before the deadline.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  uv_timer_start(
      handle_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Timer*>(t->data);
        const util::TimePoint current = now();
        if (current < self->armed_) {
          self->start(self->armed_ - current);
          return;
        }
        self->armed_ = util::kNever;
        self->fire_();
      },
      static_cast<std::uint64_t>(ms), 0);
}

void Timer::close() {
  if (handle_ == nullptr) return;
  close_and_delete(handle_);
  handle_ = nullptr;
}

Pump::Pump(uv_loop_t* loop, std::function<void()> fn)
    : check_(new uv_check_t), idle_(new uv_idle_t), fn_(std::move(fn)) {
  PUNCH_ASSERT(uv_check_init(loop, check_) == 0);
  PUNCH_ASSERT(uv_idle_init(loop, idle_) == 0);
  check_->data = this;
  uv_check_start(check_, [](uv_check_t* c) {
    auto* self = static_cast<Pump*>(c->data);
    if (!self->marked_) return;
    self->marked_ = false;
    uv_idle_stop(self->idle_);
    self->fn_();
  });
  uv_unref(reinterpret_cast<uv_handle_t*>(check_));
}

Pump::~Pump() { close(); }

void Pump::mark() {
  if (marked_ || check_ == nullptr) return;
  marked_ = true;
  uv_idle_start(idle_, [](uv_idle_t*) {});
}

void Pump::close() {
  if (check_ == nullptr) return;
  close_and_delete(check_);
  close_and_delete(idle_);
  check_ = nullptr;
  idle_ = nullptr;
}

}  // namespace punch::io
