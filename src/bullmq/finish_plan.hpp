// What the worker does with a job once it has run: the rules of BullMQ's
// Worker as pure functions of the job, the worker's options and what the
// processor did. Nothing here talks to Redis, reads a clock or logs; the
// Worker sends the plan (worker.cpp) and tests check each rule
// (tests/unit/bullmq/finish_plan_test.cpp).
//
//   processor returns / throws ──classify_run──▶ Outcome
//   job that must not run      ──outcome_without_running──▶ Outcome
//   Outcome ──plan_finish──▶ FinishPlan (which script, with which fields)
//   completion refused (-4/-9) ──plan_after_refused_completion──▶ FinishPlan
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bullmq/backoff.hpp"
#include "bullmq/job.hpp"
#include "bullmq/job_options.hpp"
#include "bullmq/processor.hpp"
#include "bullmq/script_codes.hpp"

namespace bullmq {

// The name under which Redis's own outages reach the worker from a processor
// (DependencyUnavailable's dependency).
inline constexpr const char* kRedisDependency = "redis";
// How long a job whose dependency is down waits in delayed before it can be
// claimed again.
inline constexpr std::int64_t kDeferDelayMs = 1000;

// What one run of a job came to.
struct Outcome {
  enum class Kind {
    kCompleted,         // value: the return value (JSON)
    kFailed,            // value: the error message; stack: this error's entry
    kMovedByProcessor,  // the processor moved the job itself (delayed, wait, waiting-children)
    kRateLimited,       // RateLimitError: back to wait, no attempt spent
    kDeferred,          // DependencyUnavailable: back to delayed, no attempt spent
  };
  Kind kind = Kind::kFailed;
  std::string value;
  std::string stack;
  bool unrecoverable = false;
  std::string dependency;  // kDeferred: the dependency that is down

  static Outcome completed(std::string value);
  static Outcome failed(std::string message, std::string stack, bool unrecoverable);
  static Outcome moved_by_processor();
  static Outcome rate_limited(std::string message);
  static Outcome deferred(std::string message, std::string dependency);
};

// A stack entry in the shape Node tools display: "<Name>: <message>\n    at …".
std::string stack_entry(const std::string& error_name, const std::string& message,
                        const std::string& job_name);

// Runs `process` (a processor's process(), the return value JSON text or
// empty for null) and classifies what it returned or threw, by the SDK's
// exception types (include/bullmq_worker/errors.hpp). Never throws.
Outcome classify_run(const Job& job, const std::function<std::string()>& process);

// The failure a job gets without running: a failure stored at a stalled
// recovery (`defa`), more starts than --max-started-attempts, options that
// could not be read; or nothing (the job runs).
std::optional<Outcome> outcome_without_running(const Job& job,
                                               std::optional<int> max_started_attempts);

// The worker's side of the rules (constant for a worker).
struct FinishRules {
  std::optional<KeepJobs> remove_on_complete;  // worker defaults; a job's own option wins
  std::optional<KeepJobs> remove_on_fail;
  std::optional<int> max_started_attempts;
  const ProcessorRegistry* backoff_strategies = nullptr;  // custom backoff types; null: none
  UniformRandom random = default_uniform_random;          // the jitter's source
};

// How an outcome is recorded.
struct FinishPlan {
  enum class Action {
    kNothing,     // the processor already moved the job: nothing to send
    kBackToWait,  // rate limited: moveJobFromActiveToWait, no attempt spent
    kComplete,    // moveToFinished, completed
    kFail,        // moveToFinished, failed (no attempts left, or unrecoverable)
    kRetryLater,  // moveToDelayed (the backoff's delay)
    kRetryNow,    // retryJob (no backoff)
    kDefer,       // moveToDelayed without spending the attempt (a dependency is down)
  };
  Action action = Action::kFail;
  std::string value;                // return value JSON, or the failure reason
  std::vector<std::string> fields;  // job hash fields written with it
  KeepJobs keep_jobs;               // kComplete / kFail
  std::int64_t delay_ms = 0;        // kRetryLater / kDefer
  bool unrecoverable = false;
  std::string dependency;  // kDefer
  std::string stack;       // kFail / kRetry*: this error's stack entry (for the span)

  // Whether the attempt was spent (counted in attemptsMade) when Redis records it.
  bool spends_attempt() const;
  // The BullMQ script the plan sends ("moveToFinished", …), or "" for kNothing.
  const char* script() const;
};

// `outcome` is taken by value: its return value or message moves into the plan.
FinishPlan plan_finish(const Job& job, Outcome outcome, const FinishRules& rules);

// Redis refused to complete the job with `code`: Node records the attempt as
// failed instead for -4 (pending dependencies) and -9 (a failed child, as
// unrecoverable). Returns that plan, or nothing for any other code.
std::optional<FinishPlan> plan_after_refused_completion(const Job& job, ScriptCode code,
                                                        const FinishRules& rules);

// A finishing script sent again after the connection dropped (its reply was
// lost) that finds the job gone, its lock gone or the job no longer active
// sees what the first send did: the outcome was most likely recorded then.
// Any other refusal, or any refusal of a first send, means it was not.
bool recorded_by_earlier_send(bool resent, ScriptCode code);

// The failedReason / stacktrace fields of a failed attempt: the job's stored
// stack list plus `stack`, trimmed to the job's stackTraceLimit.
std::vector<std::string> failure_fields(const Job& job, const std::string& message,
                                        const std::string& stack);

}  // namespace bullmq
