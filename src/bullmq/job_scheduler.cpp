#include "bullmq/job_scheduler.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "bullmq/cron_expression.hpp"
#include "bullmq/logger.hpp"
#include "bullmq/script_args.hpp"
#include "bullmq/strings.hpp"

namespace bullmq {
namespace {

void set_member(rapidjson::Value& obj, const char* name, rapidjson::Value value,
                rapidjson::Document::AllocatorType& alloc) {
  if (auto it = obj.FindMember(name); it != obj.MemberEnd()) {
    it->value = std::move(value);
  } else {
    obj.AddMember(rapidjson::Value(name, alloc), std::move(value), alloc);
  }
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool is_legacy_repeat_key(const std::string& rjk) {
  // v5 keys: "<name>:<jobId>:<endDate>:<tz>:<pattern|every>" (at least four ':').
  std::vector<std::string_view> parts;
  std::string_view rest = rjk;
  for (int i = 0; i < 4; ++i) {
    auto colon = rest.find(':');
    if (colon == std::string_view::npos) return false;
    parts.push_back(rest.substr(0, colon));
    rest = rest.substr(colon + 1);
  }
  std::string_view end_date = parts[2];
  if (!end_date.empty() && !all_digits(end_date)) return false;
  return !rest.empty() && (rest.find(' ') != std::string_view::npos || all_digits(rest));
}

std::optional<NextIteration> plan_next_iteration(const Job& job, std::int64_t now_ms,
                                                 std::string* error) {
  if (!job.opts.repeat) {
    if (error) *error = "job " + job.id + " has a scheduler key but no repeat options";
    return std::nullopt;
  }
  const RepeatOptions& repeat = *job.opts.repeat;
  if (repeat.limit && repeat.count + 1 > *repeat.limit) return std::nullopt;
  if (repeat.end_date_ms && now_ms > *repeat.end_date_ms) return std::nullopt;

  NextIteration next;
  if (!repeat.pattern.empty()) {
    std::string parse_error;
    auto cron = CronExpression::parse(repeat.pattern, &parse_error);
    if (!cron) {
      if (error) *error = "bad cron pattern '" + repeat.pattern + "': " + parse_error;
      return std::nullopt;
    }
    std::int64_t reference = std::max(now_ms, job.opts.prev_millis.value_or(0));
    // As BullMQ: a match exactly at startDate is skipped, one exactly at
    // endDate is kept.
    if (repeat.start_date_ms && *repeat.start_date_ms > reference)
      reference = *repeat.start_date_ms;
    std::string tz_error;
    auto at = cron->next_after(reference, repeat.tz, &tz_error);
    if (!at) {
      if (!tz_error.empty() && error) *error = tz_error;
      return std::nullopt;
    }
    if (repeat.end_date_ms && *at > *repeat.end_date_ms) return std::nullopt;
    next.next_ms = std::max(*at, now_ms);
  } else if (!repeat.every_ms) {
    if (error) *error = "job " + job.id + " repeats with neither a pattern nor 'every'";
    return std::nullopt;
  }

  rapidjson::Document opts;
  opts.Parse(job.opts_json.c_str());
  if (opts.HasParseError() || !opts.IsObject()) {
    if (error) *error = "job " + job.id + " has opts that are not a JSON object";
    return std::nullopt;
  }
  auto& alloc = opts.GetAllocator();
  const std::int64_t next_ms = next.next_ms.value_or(now_ms);
  const std::string job_id = "repeat:" + job.repeat_job_key + ":" + std::to_string(next_ms);
  set_member(opts, "jobId", rapidjson::Value(job_id.c_str(), alloc), alloc);
  set_member(opts, "delay",
             rapidjson::Value(static_cast<int64_t>(std::max<std::int64_t>(next_ms - now_ms, 0))),
             alloc);
  set_member(opts, "timestamp", rapidjson::Value(static_cast<int64_t>(now_ms)), alloc);
  set_member(opts, "prevMillis", rapidjson::Value(static_cast<int64_t>(next_ms)), alloc);
  set_member(opts, "repeatJobKey", rapidjson::Value(job.repeat_job_key.c_str(), alloc), alloc);
  auto repeat_it = opts.FindMember("repeat");
  if (repeat_it == opts.MemberEnd() || !repeat_it->value.IsObject()) {
    set_member(opts, "repeat", rapidjson::Value(rapidjson::kObjectType), alloc);
    repeat_it = opts.FindMember("repeat");
  }
  set_member(repeat_it->value, "count", rapidjson::Value(static_cast<int64_t>(repeat.count + 1)),
             alloc);

  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  opts.Accept(writer);
  next.opts_json = buffer.GetString();
  return next;
}

awaitable<void> schedule_next_iteration(QueueScripts& scripts, const Job& job,
                                        std::int64_t now_ms) {
  const std::string& queue = scripts.keys().queue();
  try {
    if (is_legacy_repeat_key(job.repeat_job_key)) {
      Reply r = co_await scripts.connection().command(
          strings("HEXISTS", scripts.keys().key("repeat:" + job.repeat_job_key), "ic"));
      if (!r.is_integer() || r.integer == 0) {
        logger().error(
            "scheduler.legacy_repeat",
            "legacy (BullMQ v5) repeatable job: not rescheduled; migrate it to a job scheduler",
            {{"queue", queue},
             {"job_id", job.id},
             {"job_name", job.name},
             {"scheduler", job.repeat_job_key}});
        co_return;
      }
    }
    std::string error;
    auto next = plan_next_iteration(job, now_ms, &error);
    if (!next) {
      if (!error.empty()) {
        logger().error("scheduler.next_failed",
                       "cannot plan the scheduler's next iteration: " + error,
                       {{"queue", queue},
                        {"job_id", job.id},
                        {"job_name", job.name},
                        {"scheduler", job.repeat_job_key}});
      }
      co_return;
    }
    std::string packed;
    pack_json_object(next->opts_json, packed);
    auto id = co_await scripts.update_job_scheduler(job.repeat_job_key, next->next_ms, packed,
                                                    job.id, now_ms);
    if (id) {
      logger().debug("scheduler.next", "scheduled the next iteration",
                     {{"queue", queue},
                      {"job_id", job.id},
                      {"scheduler", job.repeat_job_key},
                      {"next_job_id", *id}});
    }
  } catch (const std::exception& e) {
    logger().error("scheduler.next_failed",
                   std::string("cannot schedule the next iteration: ") + e.what(),
                   {{"queue", queue},
                    {"job_id", job.id},
                    {"job_name", job.name},
                    {"scheduler", job.repeat_job_key}});
  }
}

}  // namespace bullmq
