#include "bullmq/retry_plan.hpp"

#include <exception>

namespace bullmq {

RetryPlan plan_retry(const Job& job, const std::string& message, bool unrecoverable,
                     std::optional<int> max_started_attempts, const ProcessorRegistry& processors,
                     UniformRandom random) {
  const int attempts_made = job.attempts_made + 1;  // counting this one
  RetryPlan plan;
  plan.retry = !unrecoverable && attempts_made < job.opts.attempts &&
               !(max_started_attempts && *max_started_attempts <= job.attempts_started);
  if (!plan.retry || !job.opts.backoff) return plan;

  const BackoffOptions& backoff = *job.opts.backoff;
  std::int64_t delay = 0;
  if (auto builtin = backoff_delay(backoff, attempts_made, random)) {
    delay = *builtin;
  } else if (const BackoffStrategy* strategy = processors.find_backoff_strategy(backoff.type)) {
    std::string failure;
    try {
      delay = (*strategy)(attempts_made, backoff.type, message, job);
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "a non-standard exception";
    }
    if (!failure.empty()) {
      plan.retry = false;
      plan.note = " (no retry: backoff strategy '" + backoff.type + "' threw: " + failure + ")";
      return plan;
    }
  } else {
    plan.retry = false;
    plan.note = " (no retry: unknown backoff strategy '" + backoff.type + "')";
    return plan;
  }
  if (delay == -1) {  // Node: a backoff of -1 means "do not retry"
    plan.retry = false;
    return plan;
  }
  plan.delay_ms = delay;
  return plan;
}

}  // namespace bullmq
