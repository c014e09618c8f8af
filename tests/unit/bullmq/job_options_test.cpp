#include "bullmq/job_options.hpp"
#include "bullmq/job.hpp"

#include <doctest/doctest.h>

using bullmq::JobOptions;
using bullmq::KeepJobs;
using bullmq::parse_job_options;

TEST_CASE("opts as Lua cjson stores them") {
  JobOptions o;
  CHECK(
      parse_job_options(
          R"({"attempts":3,"backoff":{"type":"exponential","delay":1000,"jitter":0.5},"lifo":true,)"
          R"("priority":7,"delay":0,"kl":5,"stackTraceLimit":2,"removeOnComplete":true,"removeOnFail":{"age":3600,"count":10}})",
          o)
          .empty());
  CHECK(o.attempts == 3);
  REQUIRE(o.backoff);
  CHECK(o.backoff->type == "exponential");
  CHECK(o.backoff->delay_ms == 1000);
  CHECK(o.backoff->jitter == doctest::Approx(0.5));
  CHECK(o.lifo);
  CHECK(o.priority == 7);
  CHECK(o.keep_logs == 5);
  CHECK(o.stack_trace_limit == 2);
  REQUIRE(o.remove_on_complete);
  CHECK(o.remove_on_complete->count == 0);
  REQUIRE(o.remove_on_fail);
  CHECK(o.remove_on_fail->age_seconds == 3600);
  CHECK(o.remove_on_fail->count == 10);
}

TEST_CASE("a bare number as backoff means fixed") {
  JobOptions o;
  CHECK(parse_job_options(R"({"attempts":2,"backoff":250})", o).empty());
  REQUIRE(o.backoff);
  CHECK(o.backoff->type == "fixed");
  CHECK(o.backoff->delay_ms == 250);
}

TEST_CASE("removeOnComplete: false keeps all, n keeps n") {
  JobOptions a, b;
  CHECK(parse_job_options(R"({"removeOnComplete":false})", a).empty());
  CHECK(a.remove_on_complete->count == -1);
  CHECK(parse_job_options(R"({"removeOnComplete":100})", b).empty());
  CHECK(b.remove_on_complete->count == 100);
}

TEST_CASE("keepJobs: job option wins over the worker default; keep all otherwise") {
  KeepJobs worker{5, std::nullopt, std::nullopt};
  KeepJobs job{0, std::nullopt, std::nullopt};
  CHECK(bullmq::effective_keep_jobs(job, worker).count == 0);
  CHECK(bullmq::effective_keep_jobs(std::nullopt, worker).count == 5);
  CHECK(bullmq::effective_keep_jobs(std::nullopt, std::nullopt).count == -1);
}

TEST_CASE("repeat options of a scheduler iteration") {
  JobOptions o;
  CHECK(
      parse_job_options(
          R"({"repeat":{"pattern":"*\/5 * * * * *","tz":"Europe/Berlin","count":3,"limit":10,"endDate":1900000000000},"prevMillis":1700000000000})",
          o)
          .empty());
  REQUIRE(o.repeat);
  CHECK(o.repeat->pattern == "*/5 * * * * *");
  CHECK(o.repeat->tz == "Europe/Berlin");
  CHECK(o.repeat->count == 3);
  CHECK(o.repeat->limit == 10);
  CHECK(o.repeat->end_date_ms == 1900000000000);
  CHECK(o.prev_millis == 1700000000000);
}

TEST_CASE("malformed opts are reported") {
  JobOptions o;
  CHECK_FALSE(parse_job_options("{nope", o).empty());
  CHECK_FALSE(parse_job_options("[1,2]", o).empty());
}

TEST_CASE("a job from its HGETALL field list") {
  auto job =
      bullmq::Job::from_hash("q", "12", {"name",        "echo",
                                         "data",        R"({"a":1})",
                                         "opts",        R"({"attempts":4})",
                                         "timestamp",   "1700000000000",
                                         "processedOn", "1700000000500",
                                         "atm",         "2",
                                         "ats",         "3",
                                         "stc",         "1",
                                         "defa",        "job stalled more than allowable limit",
                                         "rjk",         "sched",
                                         "parentKey",   "bull:p:9",
                                         "stacktrace",  R"(["x"])",
                                         "unknown",     "ignored"});
  CHECK(job.queue == "q");
  CHECK(job.id == "12");
  CHECK(job.name == "echo");
  CHECK(job.data == R"({"a":1})");
  CHECK(job.opts.attempts == 4);
  CHECK(job.timestamp_ms == 1700000000000);
  CHECK(job.processed_on_ms == 1700000000500);
  CHECK(job.attempts_made == 2);
  CHECK(job.attempt() == 3);
  CHECK(job.attempts_started == 3);
  CHECK(job.stalled_counter == 1);
  CHECK(job.deferred_failure == "job stalled more than allowable limit");
  CHECK(job.repeat_job_key == "sched");
  CHECK(job.parent_key == "bull:p:9");
  CHECK(job.stacktrace_json == R"(["x"])");
  CHECK(job.opts_error.empty());
}

TEST_CASE("legacy attemptsMade field is read when atm is absent") {
  auto job = bullmq::Job::from_hash("q", "1", {"name", "n", "attemptsMade", "3"});
  CHECK(job.attempts_made == 3);
}

TEST_CASE("option names: kl wins over keepLogs, unknown names ignored, first duplicate wins") {
  JobOptions o;
  CHECK(parse_job_options(R"({"keepLogs":9,"kl":4,"jobId":"x","attempts":2,"attempts":5})", o)
            .empty());
  CHECK(o.keep_logs == 4);
  CHECK(o.attempts == 2);
  JobOptions only_long;
  CHECK(parse_job_options(R"({"keepLogs":9,"priority":"3","delay":12.7})", only_long).empty());
  CHECK(only_long.keep_logs == 9);
  CHECK(only_long.priority == 3);
  CHECK(only_long.delay_ms == 12);
  JobOptions defaults;
  defaults.priority = 8;
  CHECK(parse_job_options("{}", defaults).empty());
  CHECK(defaults.priority == 0);
  CHECK_FALSE(defaults.keep_logs);
}
