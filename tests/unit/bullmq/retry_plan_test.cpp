// Failed attempts: BullMQ's retry rules with built-in and custom backoff
// strategies (bullmq/retry_plan.hpp).
#include "bullmq/retry_plan.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

#include "test_jobs.hpp"

using namespace bullmq;

namespace {

using testsupport::half_draw;

Job failed_job(const std::string& opts, int attempts_made = 0, int attempts_started = 1) {
  return testsupport::claimed_job(opts, attempts_made, attempts_started);
}

}  // namespace

TEST_CASE("a custom strategy gives the delay, with Node's arguments") {
  ProcessorRegistry registry;
  int seen_attempts = 0;
  std::string seen_type, seen_error, seen_id;
  registry.add_backoff_strategy("linear",
                                [&](int attempts, std::string_view type, std::string_view error,
                                    const bullmq_worker::Job& job) -> std::int64_t {
                                  seen_attempts = attempts;
                                  seen_type = type;
                                  seen_error = error;
                                  seen_id = job.id;
                                  return attempts * 100;
                                });
  RetryPlan plan = plan_retry(failed_job(R"({"attempts":5,"backoff":{"type":"linear"}})", 2),
                              "boom", false, std::nullopt, registry);
  CHECK(plan.retry);
  CHECK(plan.delay_ms == 300);
  CHECK(plan.note.empty());
  CHECK(seen_attempts == 3);
  CHECK(seen_type == "linear");
  CHECK(seen_error == "boom");
  CHECK(seen_id == "1");
}

TEST_CASE("-1 from a strategy means do not retry; other negative delays retry at once") {
  ProcessorRegistry registry;
  std::int64_t answer = -1;
  registry.add_backoff_strategy("s", [&](int, std::string_view, std::string_view,
                                         const bullmq_worker::Job&) { return answer; });
  const Job job = failed_job(R"({"attempts":5,"backoff":{"type":"s"}})");
  RetryPlan stop = plan_retry(job, "e", false, std::nullopt, registry);
  CHECK_FALSE(stop.retry);
  CHECK(stop.note.empty());
  answer = -5;
  RetryPlan now = plan_retry(job, "e", false, std::nullopt, registry);
  CHECK(now.retry);
  CHECK(now.delay_ms == -5);  // moveToDelayed with a past due time, as Node sends it
  answer = 0;
  CHECK(plan_retry(job, "e", false, std::nullopt, registry).delay_ms == 0);
}

TEST_CASE("a strategy that throws, or an unknown type, fails the job saying why") {
  ProcessorRegistry registry;
  registry.add_backoff_strategy(
      "bad",
      [](int, std::string_view, std::string_view, const bullmq_worker::Job&) -> std::int64_t {
        throw std::runtime_error("no table");
      });
  RetryPlan threw = plan_retry(failed_job(R"({"attempts":5,"backoff":{"type":"bad"}})"), "e", false,
                               std::nullopt, registry);
  CHECK_FALSE(threw.retry);
  CHECK(threw.note == " (no retry: backoff strategy 'bad' threw: no table)");
  RetryPlan unknown = plan_retry(failed_job(R"({"attempts":5,"backoff":{"type":"nope"}})"), "e",
                                 false, std::nullopt, registry);
  CHECK_FALSE(unknown.retry);
  CHECK(unknown.note == " (no retry: unknown backoff strategy 'nope')");
}

TEST_CASE("built-in strategies, attempts, unrecoverable errors and maxStartedAttempts") {
  ProcessorRegistry registry;
  RetryPlan fixed =
      plan_retry(failed_job(R"({"attempts":3,"backoff":{"type":"exponential","delay":100}})", 1),
                 "e", false, std::nullopt, registry, half_draw);
  CHECK(fixed.retry);
  CHECK(fixed.delay_ms == 200);
  CHECK_FALSE(
      plan_retry(failed_job(R"({"attempts":3})", 2), "e", false, std::nullopt, registry).retry);
  CHECK_FALSE(plan_retry(failed_job(R"({"attempts":3})"), "e", true, std::nullopt, registry).retry);
  CHECK_FALSE(plan_retry(failed_job(R"({"attempts":3})", 0, 2), "e", false, 2, registry).retry);
  RetryPlan plain = plan_retry(failed_job(R"({"attempts":3})"), "e", false, std::nullopt, registry);
  CHECK(plain.retry);
  CHECK(plain.delay_ms == 0);
}
