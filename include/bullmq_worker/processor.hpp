// bullmq-worker processor SDK: the code that does a job's work.
//
// A Processor is registered for one job name and called on a processing
// thread (never the I/O thread, unless it runs inline) with the claimed Job
// and its JobContext. It returns the job's return value as JSON text, or
// throws (errors.hpp):
//   - UnrecoverableError: fail now, no retries;
//   - DependencyUnavailable: a service it needs is down; not the job's fault;
//   - RateLimitError: after JobContext::rate_limit; back to wait;
//   - DelayedError / WaitingChildrenError / WaitingError: from the JobContext
//     calls that moved the job; let them through;
//   - any other std::exception: a failed attempt (`attempts`/`backoff` apply).
// Thread-safety: one Processor serves every job of its name, several at once
// on different threads; process() must be safe to call concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "bullmq_worker/errors.hpp"
#include "bullmq_worker/job.hpp"
#include "bullmq_worker/job_context.hpp"

namespace bullmq_worker {

class Processor {
 public:
  virtual ~Processor() = default;
  // Does the job's work; see the file comment for outcomes.
  virtual std::string process(const Job& job, JobContext& context) = 0;
  // True for processors that finish in microseconds, never block and never
  // call the JobContext (a lookup, a transformation of the data): the worker
  // then runs them on its I/O thread and saves two thread hand-offs per job.
  // A context call from such a processor fails the job as unrecoverable.
  virtual bool runs_inline() const { return false; }
};

// Tells whether a dependency answers: an empty string when it does, else what
// is wrong. Blocking; called on a processing thread, possibly concurrently.
using DependencyCheck = std::function<std::string()>;

// A custom backoff strategy (Node's settings.backoffStrategy), registered by
// backoff type name: the delay in ms before the next attempt of `job`, which
// has now failed `attempts_made` times (1 after the first failure) with
// `error_message`. -1 fails the job without retrying, and 0 retries at once,
// as in Node; any other negative delay also retries at once. A strategy that
// throws fails the job, its message saying so. Called on the worker's I/O
// thread: it must be quick and must not block.
using BackoffStrategy = std::function<std::int64_t(int attempts_made, std::string_view type,
                                                   std::string_view error_message, const Job& job)>;

}  // namespace bullmq_worker
