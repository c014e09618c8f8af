// Decoded job options (the `opts` field of a job hash, written by Lua cjson
// with BullMQ's compressed key names). Only what a worker acts on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bullmq {

// removeOnComplete / removeOnFail as stored: bool, integer or {age,count,limit}.
struct KeepJobs {
  // -1 keeps all, 0 removes at once, n keeps the newest n.
  std::optional<std::int64_t> count;
  std::optional<std::int64_t> age_seconds;
  std::optional<std::int64_t> limit;
  bool operator==(const KeepJobs&) const = default;
};

struct BackoffOptions {
  std::string type;  // "fixed", "exponential" or a custom name
  std::int64_t delay_ms = 0;
  double jitter = 0;
};

struct RepeatOptions {
  std::string pattern;  // cron, empty for `every`
  std::optional<std::int64_t> every_ms;
  std::string tz;
  std::optional<std::int64_t> limit;
  std::int64_t count = 0;
  std::optional<std::int64_t> offset;
  std::optional<std::int64_t> start_date_ms;
  std::optional<std::int64_t> end_date_ms;
  bool utc = false;
};

struct JobOptions {
  int attempts = 0;
  std::optional<BackoffOptions> backoff;
  bool lifo = false;
  std::int64_t priority = 0;
  std::int64_t delay_ms = 0;
  std::optional<KeepJobs> remove_on_complete;
  std::optional<KeepJobs> remove_on_fail;
  std::optional<std::int64_t> keep_logs;          // `kl`
  std::optional<std::int64_t> stack_trace_limit;  // absent = keep all
  std::optional<RepeatOptions> repeat;
  std::optional<std::int64_t> prev_millis;
  // opts.telemetry as bullmq-otel stores it: `tm` is the producer's trace
  // context (a JSON object of propagation headers, as text), `omc` asks that
  // jobs added on from this one do not carry it on.
  std::string telemetry_metadata;
  bool telemetry_omit_context = false;
};

// Parses the stored JSON. Returns an error message, empty on success; on error
// `out` keeps whatever was parsed before the problem.
std::string parse_job_options(std::string_view json, JobOptions& out);

// The keepJobs map moveToFinished needs: the job's option wins over the
// worker default; absent everywhere = keep all ({count:-1}).
KeepJobs effective_keep_jobs(const std::optional<KeepJobs>& job_option,
                             const std::optional<KeepJobs>& worker_default);

}  // namespace bullmq
