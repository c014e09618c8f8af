// Whether a failed attempt runs again, and after how long: BullMQ's rules
// (attempts, maxStartedAttempts, UnrecoverableError) and its backoff, with
// the built-in strategies and the custom ones processors register
// (ProcessorRegistry::add_backoff_strategy). A pure function of the job;
// the Worker turns the plan into moveToDelayed, retryJob or moveToFinished.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bullmq/backoff.hpp"
#include "bullmq/job.hpp"
#include "bullmq/processor.hpp"

namespace bullmq {

struct RetryPlan {
  bool retry = false;
  // When retrying: 0 runs it again at once (retryJob); any other value moves
  // it to delayed for that long (a negative one is due at once), as Node does.
  std::int64_t delay_ms = 0;
  // Appended to the failure reason when the backoff itself stopped the retry
  // (unknown type, a strategy that threw); empty otherwise.
  std::string note;
};

// `job` failed its current attempt with `message`. A custom strategy's -1
// means "do not retry" (Node's rule); a strategy that throws, or a backoff
// type nobody registered, fails the job with a note saying why (Node would
// leave it active until it stalls).
RetryPlan plan_retry(const Job& job, const std::string& message, bool unrecoverable,
                     std::optional<int> max_started_attempts, const ProcessorRegistry& processors,
                     UniformRandom random = default_uniform_random);

}  // namespace bullmq
