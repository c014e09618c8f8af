#include "bullmq/retry_backoff.hpp"

#include <doctest/doctest.h>

using namespace bullmq;
using std::chrono::milliseconds;

TEST_CASE("the core's retry backoff doubles from 100 ms up to 5 s, with ±20 % jitter") {
  CHECK(retry_backoff(0, 0.5) == milliseconds(100));
  CHECK(retry_backoff(1, 0.5) == milliseconds(200));
  CHECK(retry_backoff(5, 0.5) == milliseconds(3200));
  CHECK(retry_backoff(6, 0.5) == milliseconds(5000));
  CHECK(retry_backoff(1000, 0.5) == milliseconds(5000));  // no overflow for long outages
  CHECK(retry_backoff(0, 0.0) == milliseconds(80));
  CHECK(retry_backoff(6, 1.0) == milliseconds(6000));
  for (int i = 0; i < 100; ++i) {
    const auto d = retry_backoff(2);
    CHECK(d >= milliseconds(320));
    CHECK(d <= milliseconds(480));
  }
}
