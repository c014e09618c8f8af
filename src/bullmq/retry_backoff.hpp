// How long to wait before trying Redis again after the n-th consecutive
// failure (n = 0 first): doubling from 100 ms, capped at 5 s, with ±20 %
// jitter so that many workers do not retry in step. The one backoff of the
// core's own retries (reconnects, claims, recording outcomes); a job's
// backoff is BullMQ's (bullmq/backoff.hpp).
#pragma once

#include <chrono>

namespace bullmq {

inline constexpr std::chrono::milliseconds kRetryBackoffMin{100};
inline constexpr std::chrono::milliseconds kRetryBackoffMax{5000};

// `jitter` in [0, 1) (a uniform draw); 0.5 gives the nominal delay.
std::chrono::milliseconds retry_backoff(unsigned failures, double jitter);
// With a draw of its own.
std::chrono::milliseconds retry_backoff(unsigned failures);

}  // namespace bullmq
