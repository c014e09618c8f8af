#include "bullmq/backoff.hpp"

#include <doctest/doctest.h>

using bullmq::backoff_delay;
using bullmq::BackoffOptions;

namespace {
double zero() {
  return 0.0;
}
double almost_one() {
  return 0.999999;
}
double half() {
  return 0.5;
}
}  // namespace

TEST_CASE("fixed backoff is the delay on every attempt") {
  BackoffOptions b{"fixed", 1500, 0};
  CHECK(backoff_delay(b, 1, zero) == 1500);
  CHECK(backoff_delay(b, 7, zero) == 1500);
}

TEST_CASE("exponential backoff doubles from the delay") {
  BackoffOptions b{"exponential", 1000, 0};
  CHECK(backoff_delay(b, 1, zero) == 1000);
  CHECK(backoff_delay(b, 2, zero) == 2000);
  CHECK(backoff_delay(b, 3, zero) == 4000);
  CHECK(backoff_delay(b, 10, zero) == 512000);
}

TEST_CASE("jitter keeps the delay within [d*(1-j), d)") {
  BackoffOptions fixed{"fixed", 1000, 0.5};
  CHECK(backoff_delay(fixed, 1, zero) == 500);
  CHECK(backoff_delay(fixed, 1, half) == 750);
  CHECK(backoff_delay(fixed, 1, almost_one) == 999);
  BackoffOptions exp{"exponential", 1000, 1.0};
  CHECK(backoff_delay(exp, 3, zero) == 0);
  CHECK(backoff_delay(exp, 3, half) == 2000);
}

TEST_CASE("jitter above 1 is treated as 1") {
  BackoffOptions b{"fixed", 1000, 3.0};
  CHECK(backoff_delay(b, 1, half) == 500);
}

TEST_CASE("unknown strategies are reported, not guessed") {
  BackoffOptions b{"custom-linear", 1000, 0};
  CHECK_FALSE(backoff_delay(b, 1, zero).has_value());
}
