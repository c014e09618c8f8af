#include "bullmq/retry_backoff.hpp"

#include <algorithm>
#include <cstdint>
#include <random>

namespace bullmq {

std::chrono::milliseconds retry_backoff(unsigned failures, double jitter) {
  const std::int64_t base = kRetryBackoffMin.count() << std::min(failures, 10u);
  const std::int64_t capped = std::min<std::int64_t>(base, kRetryBackoffMax.count());
  const double factor = 0.8 + 0.4 * std::clamp(jitter, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(capped) * factor));
}

std::chrono::milliseconds retry_backoff(unsigned failures) {
  static thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_real_distribution<double> draw(0.0, 1.0);
  return retry_backoff(failures, draw(rng));
}

}  // namespace bullmq
