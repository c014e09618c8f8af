// The worker's decisions once a job has run (bullmq/finish_plan.hpp): one
// case per rule of the README's "BullMQ behaviour" for attempts, backoff,
// removal, stack traces and the outcomes that spend no attempt. No Redis.
#include "bullmq/finish_plan.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

#include "bullmq_worker/errors.hpp"
#include "test_jobs.hpp"

using namespace bullmq;

namespace {

Job job_with(const std::string& opts, int attempts_made = 0, int attempts_started = 1) {
  return testsupport::claimed_job(opts, attempts_made, attempts_started, "7", "resize");
}

FinishRules rules() {
  FinishRules r;
  r.random = testsupport::half_draw;
  return r;
}

Outcome failure(const std::string& message = "boom") {
  return Outcome::failed(message, stack_entry("Error", message, "resize"), false);
}

}  // namespace

TEST_CASE("a return value completes the job; a job's removeOnComplete wins over the worker's") {
  FinishRules r = rules();
  FinishPlan plan = plan_finish(job_with("{}"), Outcome::completed(R"({"ok":1})"), r);
  CHECK(plan.action == FinishPlan::Action::kComplete);
  CHECK(plan.value == R"({"ok":1})");
  CHECK(plan.keep_jobs.count == -1);  // nothing anywhere: keep all
  CHECK(std::string(plan.script()) == "moveToFinished");
  CHECK(plan.spends_attempt());

  r.remove_on_complete = KeepJobs{5, {}, {}};
  CHECK(plan_finish(job_with("{}"), Outcome::completed("1"), r).keep_jobs.count == 5);
  CHECK(plan_finish(job_with(R"({"removeOnComplete":true})"), Outcome::completed("1"), r)
            .keep_jobs.count == 0);
}

TEST_CASE("what a processor returns or throws is classified by the SDK's error types") {
  const Job job = job_with("{}");
  CHECK(classify_run(job, [] { return std::string(); }).value == "null");
  Outcome not_json = classify_run(job, [] { return std::string("{oops"); });
  CHECK(not_json.kind == Outcome::Kind::kFailed);
  CHECK(not_json.unrecoverable);
  CHECK(not_json.value == "processor for 'resize' returned a value that is not JSON");

  auto kind_of = [&](auto thrower) { return classify_run(job, thrower).kind; };
  CHECK(kind_of([]() -> std::string { throw bullmq_worker::DelayedError(); }) ==
        Outcome::Kind::kMovedByProcessor);
  CHECK(kind_of([]() -> std::string { throw bullmq_worker::WaitingChildrenError(); }) ==
        Outcome::Kind::kMovedByProcessor);
  CHECK(kind_of([]() -> std::string { throw bullmq_worker::WaitingError(); }) ==
        Outcome::Kind::kMovedByProcessor);
  CHECK(kind_of([]() -> std::string { throw bullmq_worker::RateLimitError(); }) ==
        Outcome::Kind::kRateLimited);

  Outcome unrecoverable = classify_run(
      job, []() -> std::string { throw bullmq_worker::UnrecoverableError("bad input"); });
  CHECK(unrecoverable.unrecoverable);
  CHECK(unrecoverable.stack.rfind("UnrecoverableError: bad input\n    at processor 'resize'", 0) ==
        0);

  Outcome deferred = classify_run(job, []() -> std::string {
    throw bullmq_worker::DependencyUnavailable("postgres", "connection refused");
  });
  CHECK(deferred.kind == Outcome::Kind::kDeferred);
  CHECK(deferred.dependency == "postgres");

  Outcome plain = classify_run(job, []() -> std::string { throw std::invalid_argument("x"); });
  CHECK(plain.kind == Outcome::Kind::kFailed);
  CHECK_FALSE(plain.unrecoverable);
  CHECK(plain.stack.rfind("std::invalid_argument: x", 0) == 0);

  Outcome odd = classify_run(job, []() -> std::string { throw 42; });
  CHECK(odd.value == "processor threw a non-standard exception");
}

TEST_CASE("a failed attempt with attempts left and no backoff runs again at once (retryJob)") {
  FinishPlan plan = plan_finish(job_with(R"({"attempts":3})"), failure(), rules());
  CHECK(plan.action == FinishPlan::Action::kRetryNow);
  CHECK(std::string(plan.script()) == "retryJob");
  CHECK(plan.fields.at(0) == "failedReason");
  CHECK(plan.fields.at(1) == "boom");
  CHECK(plan.fields.at(2) == "stacktrace");
}

TEST_CASE("a failed attempt with a backoff moves to delayed for the backoff's delay") {
  FinishPlan fixed = plan_finish(
      job_with(R"({"attempts":3,"backoff":{"type":"fixed","delay":250}})"), failure(), rules());
  CHECK(fixed.action == FinishPlan::Action::kRetryLater);
  CHECK(fixed.delay_ms == 250);
  CHECK(std::string(fixed.script()) == "moveToDelayed");

  // exponential: delay × 2^(attemptsMade - 1), attemptsMade counting this attempt.
  FinishPlan exponential =
      plan_finish(job_with(R"({"attempts":5,"backoff":{"type":"exponential","delay":100}})", 2),
                  failure(), rules());
  CHECK(exponential.delay_ms == 400);
}

TEST_CASE("the last attempt fails the job; a job's removeOnFail wins over the worker's") {
  FinishRules r = rules();
  r.remove_on_fail = KeepJobs{10, {}, {}};
  FinishPlan plan = plan_finish(job_with(R"({"attempts":2})", 1), failure(), r);
  CHECK(plan.action == FinishPlan::Action::kFail);
  CHECK(plan.keep_jobs.count == 10);
  CHECK(plan.value == "boom");
  CHECK(plan_finish(job_with(R"({"attempts":2,"removeOnFail":3})", 1), failure(), r)
            .keep_jobs.count == 3);
  // No attempts option: one attempt.
  CHECK(plan_finish(job_with("{}"), failure(), r).action == FinishPlan::Action::kFail);
}

TEST_CASE("an unrecoverable error fails the job at once, whatever attempts are left") {
  Outcome outcome = Outcome::failed("no", stack_entry("UnrecoverableError", "no", "resize"), true);
  FinishPlan plan = plan_finish(job_with(R"({"attempts":5,"backoff":1000})"), outcome, rules());
  CHECK(plan.action == FinishPlan::Action::kFail);
  CHECK(plan.unrecoverable);
}

TEST_CASE("an unknown backoff type fails the job and says why") {
  FinishPlan plan =
      plan_finish(job_with(R"({"attempts":3,"backoff":{"type":"mystery"}})"), failure(), rules());
  CHECK(plan.action == FinishPlan::Action::kFail);
  CHECK(plan.value.rfind("boom", 0) == 0);
  CHECK(plan.value.find("mystery") != std::string::npos);
  CHECK(plan.fields.at(1) == plan.value);
}

TEST_CASE("a custom backoff strategy registered by a processor set gives the delay") {
  ProcessorRegistry registry;
  registry.add_backoff_strategy(
      "linear", [](int attempts, std::string_view, std::string_view, const bullmq_worker::Job&) {
        return static_cast<std::int64_t>(attempts) * 100;
      });
  FinishRules r = rules();
  r.backoff_strategies = &registry;
  FinishPlan plan =
      plan_finish(job_with(R"({"attempts":4,"backoff":{"type":"linear"}})", 1), failure(), r);
  CHECK(plan.action == FinishPlan::Action::kRetryLater);
  CHECK(plan.delay_ms == 200);
}

TEST_CASE("the stored stack traces grow by this error's entry, trimmed to stackTraceLimit") {
  Job job = job_with(R"({"attempts":5,"stackTraceLimit":2})", 2);
  job.stacktrace_json = R"(["first","second"])";
  FinishPlan plan = plan_finish(job, failure("third"), rules());
  CHECK(plan.fields.at(3) ==
        R"j(["second","Error: third\n    at processor 'resize' (bullmq-worker)"])j");

  Job no_limit = job_with(R"({"attempts":5})");
  no_limit.stacktrace_json = R"(["first"])";
  CHECK(failure_fields(no_limit, "m", "s") ==
        std::vector<std::string>{"failedReason", "m", "stacktrace", R"(["first","s"])"});
  Job zero = job_with(R"({"stackTraceLimit":0})");
  CHECK(failure_fields(zero, "m", "s").at(3) == "[]");
}

TEST_CASE("jobs that must not run fail as unrecoverable before their processor is called") {
  CHECK_FALSE(outcome_without_running(job_with("{}"), std::nullopt));

  Job flagged = job_with("{}");
  flagged.deferred_failure = "child job 3 failed";
  auto defa = outcome_without_running(flagged, std::nullopt);
  REQUIRE(defa);
  CHECK(defa->unrecoverable);
  CHECK(defa->value == "child job 3 failed");

  auto started = outcome_without_running(job_with("{}", 0, 3), 2);
  REQUIRE(started);
  CHECK(started->value == "job started more than allowable limit");
  CHECK_FALSE(outcome_without_running(job_with("{}", 0, 2), 2));

  Job bad_opts = job_with("{not json");
  REQUIRE_FALSE(bad_opts.opts_error.empty());
  CHECK(outcome_without_running(bad_opts, std::nullopt)->unrecoverable);
}

TEST_CASE("a dependency outage defers the job without spending an attempt or a start") {
  FinishPlan plan = plan_finish(job_with(R"({"attempts":1})", 0, 3),
                                Outcome::deferred("db down", "postgres"), rules());
  CHECK(plan.action == FinishPlan::Action::kDefer);
  CHECK(plan.delay_ms == kDeferDelayMs);
  CHECK(plan.dependency == "postgres");
  CHECK(plan.fields == std::vector<std::string>{"ats", "2"});
  CHECK_FALSE(plan.spends_attempt());
  CHECK(plan_finish(job_with("{}", 0, 0), Outcome::deferred("x", "y"), rules()).fields.at(1) ==
        "0");
}

TEST_CASE("a rate-limited job goes back to wait; a job the processor moved needs nothing sent") {
  FinishPlan limited = plan_finish(job_with("{}"), Outcome::rate_limited("limited"), rules());
  CHECK(limited.action == FinishPlan::Action::kBackToWait);
  CHECK(std::string(limited.script()) == "moveJobFromActiveToWait");
  CHECK_FALSE(limited.spends_attempt());
  FinishPlan moved = plan_finish(job_with("{}"), Outcome::moved_by_processor(), rules());
  CHECK(moved.action == FinishPlan::Action::kNothing);
  CHECK(std::string(moved.script()).empty());
}

TEST_CASE("a completion refused for pending or failed children becomes a failed attempt") {
  const Job job = job_with(R"({"attempts":3})");
  auto pending = plan_after_refused_completion(job, ScriptCode::kPendingDependencies, rules());
  REQUIRE(pending);
  CHECK(pending->action == FinishPlan::Action::kRetryNow);
  CHECK(pending->value == "Job 7 has pending dependencies. moveToFinished");
  CHECK(pending->stack.rfind("Error: Job 7 has pending", 0) == 0);

  auto failed_child = plan_after_refused_completion(job, ScriptCode::kFailedChildren, rules());
  REQUIRE(failed_child);
  CHECK(failed_child->action == FinishPlan::Action::kFail);
  CHECK(failed_child->unrecoverable);

  CHECK_FALSE(plan_after_refused_completion(job, ScriptCode::kLockMismatch, rules()));
  CHECK_FALSE(plan_after_refused_completion(job, ScriptCode::kOk, rules()));
}

TEST_CASE("a resent outcome that finds the job already moved was recorded by the first send") {
  CHECK(recorded_by_earlier_send(true, ScriptCode::kJobMissing));
  CHECK(recorded_by_earlier_send(true, ScriptCode::kLockMissing));
  CHECK(recorded_by_earlier_send(true, ScriptCode::kNotActive));
  CHECK_FALSE(recorded_by_earlier_send(true, ScriptCode::kLockMismatch));  // another owner
  CHECK_FALSE(recorded_by_earlier_send(true, ScriptCode::kPendingDependencies));
  CHECK_FALSE(recorded_by_earlier_send(false, ScriptCode::kLockMissing));  // first send: lost
}
