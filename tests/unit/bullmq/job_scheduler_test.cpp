#include "bullmq/job_scheduler.hpp"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

using namespace bullmq;

namespace {

Job scheduled(const std::string& opts, const std::string& rjk = "sched") {
  return Job::from_hash("q", "repeat:" + rjk + ":1000", {"name", "tick", "rjk", rjk, "opts", opts});
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  return d;
}

}  // namespace

TEST_CASE("cron scheduler: next run in the scheduler's zone, opts carried over") {
  // 2026-01-01T00:00:00Z = 1767225600000
  const std::int64_t now = 1767225600000;
  auto job =
      scheduled(R"({"attempts":2,"kl":3,"repeat":{"pattern":"0 0 * * * *","tz":"UTC","count":4}})");
  std::string error;
  auto next = plan_next_iteration(job, now, &error);
  REQUIRE(next);
  CHECK(error.empty());
  REQUIRE(next->next_ms);
  CHECK(*next->next_ms == now + 3600 * 1000);
  auto opts = parse(next->opts_json);
  CHECK(opts["jobId"].GetString() == std::string("repeat:sched:") + std::to_string(now + 3600000));
  CHECK(opts["delay"].GetInt64() == 3600000);
  CHECK(opts["prevMillis"].GetInt64() == now + 3600000);
  CHECK(opts["repeat"]["count"].GetInt64() == 5);
  CHECK(opts["kl"].GetInt64() == 3);  // compressed keys are kept
  CHECK(opts["attempts"].GetInt64() == 2);
}

TEST_CASE("every scheduler: the script computes the time") {
  auto job = scheduled(R"({"repeat":{"every":500,"count":1}})");
  auto next = plan_next_iteration(job, 1000, nullptr);
  REQUIRE(next);
  CHECK_FALSE(next->next_ms);
}

TEST_CASE("limit and endDate stop the scheduler") {
  CHECK_FALSE(plan_next_iteration(scheduled(R"({"repeat":{"every":500,"count":3,"limit":3}})"),
                                  1000, nullptr));
  CHECK_FALSE(
      plan_next_iteration(scheduled(R"({"repeat":{"every":500,"endDate":999}})"), 1000, nullptr));
}

TEST_CASE("bad patterns and zones are errors, not crashes") {
  std::string error;
  CHECK_FALSE(
      plan_next_iteration(scheduled(R"({"repeat":{"pattern":"61 * * * *"}})"), 1000, &error));
  CHECK(error.find("cron") != std::string::npos);
  error.clear();
  CHECK_FALSE(plan_next_iteration(
      scheduled(R"({"repeat":{"pattern":"* * * * *","tz":"Mars/Olympus"}})"), 1000, &error));
  CHECK_FALSE(error.empty());
}

TEST_CASE("legacy v5 repeat keys are recognised") {
  CHECK(is_legacy_repeat_key("name::::*/5 * * * *"));
  CHECK(is_legacy_repeat_key("name:jobid:1700000000000:UTC:60000"));
  CHECK_FALSE(is_legacy_repeat_key("my-scheduler"));
  CHECK_FALSE(is_legacy_repeat_key("a:b:c"));
  CHECK_FALSE(is_legacy_repeat_key("a:b:notanumber:tz:5000"));
}
