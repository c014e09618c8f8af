// Retry delays for failed attempts, computed by the worker exactly as BullMQ's
// built-in strategies: fixed and exponential, with optional jitter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bullmq/job_options.hpp"

namespace bullmq {

// Source of uniform numbers in [0, 1); injectable for tests.
using UniformRandom = double (*)();
double default_uniform_random();

// The delay before the next attempt, in ms, for a job that has now failed
// `attempts_made` times (1 after the first failure). nullopt when the
// backoff type is not a built-in one.
std::optional<std::int64_t> backoff_delay(const BackoffOptions& backoff, int attempts_made,
                                          UniformRandom random = default_uniform_random);

}  // namespace bullmq
