#include "transport/rtt_estimator.hpp"

#include <doctest/doctest.h>

#include "test_time.hpp"
#include "transport/constants.hpp"

namespace punch::transport {

namespace {
using testing::kT0;
}

TEST_CASE("rtt_estimator: starts from the RFC 9002 initial RTT") {
  RttEstimator r;
  CHECK_FALSE(r.has_sample());
  CHECK(r.smoothed() == 333ms);
  CHECK(r.variance() == util::Duration(166500us));
  CHECK(r.pto_base() == 999ms);
  CHECK(r.loss_delay() == util::Duration(374625us));  // 9/8 * 333 ms.
}

TEST_CASE("rtt_estimator: first sample, then EWMA with ack delay") {
  RttEstimator r;
  r.update(100ms, 0ms, kT0);
  CHECK(r.has_sample());
  CHECK(r.first_sample_time() == kT0);
  CHECK(r.smoothed() == 100ms);
  CHECK(r.variance() == 50ms);
  CHECK(r.min() == 100ms);
  // 120 ms with 10 ms ack delay: adjusted 110 ms.
  r.update(120ms, 10ms, kT0 + 1s);
  CHECK(r.latest() == 120ms);
  CHECK(r.smoothed() == util::Duration(101250us));  // (7*100 + 110) / 8
  CHECK(r.variance() == util::Duration(40ms));      // (3*50 + |100-110|) / 4
  CHECK(r.min() == 100ms);
  // The ack delay is not subtracted when that would go below the minimum RTT.
  r.update(105ms, 20ms, kT0 + 2s);
  CHECK(r.smoothed() == (7 * util::Duration(101250us) + 105ms) / 8);
  CHECK(r.loss_delay() == util::Duration(105ms) * 9 / 8);  // latest > smoothed
  // A sample below min lowers it.
  r.update(50ms, 0ms, kT0 + 3s);
  CHECK(r.min() == 50ms);
  CHECK(r.loss_delay() == r.smoothed() * 9 / 8);  // smoothed > latest
}

TEST_CASE("rtt_estimator: loss delay and PTO never go below the timer granularity") {
  RttEstimator r;
  r.update(10us, 0ms, kT0);
  CHECK(r.loss_delay() == kGranularity);
  CHECK(r.pto_base() == 10us + kGranularity);
  r.reset();
  CHECK_FALSE(r.has_sample());
  CHECK(r.smoothed() == kInitialRtt);
}

}  // namespace punch::transport
