#include "bullmq/backoff.hpp"

#include <cmath>
#include <random>

namespace bullmq {

double default_uniform_random() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

std::optional<std::int64_t> backoff_delay(const BackoffOptions& backoff, int attempts_made,
                                          UniformRandom random) {
  double base;
  if (backoff.type == "fixed") {
    base = static_cast<double>(backoff.delay_ms);
  } else if (backoff.type == "exponential") {
    base = std::round(std::pow(2.0, attempts_made - 1) * static_cast<double>(backoff.delay_ms));
  } else {
    return std::nullopt;
  }
  if (backoff.jitter > 0) {
    const double j = std::min(backoff.jitter, 1.0);
    return static_cast<std::int64_t>(std::floor(random() * base * j + base * (1 - j)));
  }
  return static_cast<std::int64_t>(base);
}

}  // namespace bullmq
