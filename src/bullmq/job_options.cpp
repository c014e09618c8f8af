#include "bullmq/job_options.hpp"

#include <rapidjson/document.h>

#include <cmath>

#include "bullmq/json.hpp"

namespace bullmq {
namespace {

using rapidjson::Value;

std::optional<std::int64_t> as_int(const Value& v) {
  if (v.IsInt64()) return v.GetInt64();
  if (v.IsUint64()) return static_cast<std::int64_t>(v.GetUint64());
  if (v.IsDouble() && std::isfinite(v.GetDouble())) return static_cast<std::int64_t>(v.GetDouble());
  if (v.IsString()) {  // tolerate numbers stored as text
    char* end = nullptr;
    long long n = std::strtoll(v.GetString(), &end, 10);
    if (end && *end == '\0' && end != v.GetString()) return n;
  }
  return std::nullopt;
}

std::optional<std::int64_t> member_int(const Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return std::nullopt;
  return as_int(it->value);
}

bool parse_keep_jobs(const Value& v, KeepJobs& out) {
  if (v.IsBool()) {
    out.count = v.GetBool() ? 0 : -1;
    return true;
  }
  if (v.IsNumber()) {
    out.count = as_int(v);
    return true;
  }
  if (v.IsObject()) {
    out.count = member_int(v, "count");
    out.age_seconds = member_int(v, "age");
    out.limit = member_int(v, "limit");
    return true;
  }
  return false;  // null or other: treated as absent
}

}  // namespace

std::string parse_job_options(std::string_view json, JobOptions& out) {
  SmallJsonDocument parsed;
  auto& doc = parsed.parse(json);
  if (doc.HasParseError()) return "job opts are not valid JSON";
  if (!doc.IsObject()) return "job opts are not a JSON object";

  if (auto n = member_int(doc, "attempts")) out.attempts = static_cast<int>(*n);
  if (auto it = doc.FindMember("backoff"); it != doc.MemberEnd()) {
    const Value& b = it->value;
    if (b.IsNumber()) {
      out.backoff = BackoffOptions{"fixed", as_int(b).value_or(0), 0};
    } else if (b.IsObject()) {
      BackoffOptions backoff;
      if (auto t = b.FindMember("type"); t != b.MemberEnd() && t->value.IsString()) {
        backoff.type = t->value.GetString();
      }
      backoff.delay_ms = member_int(b, "delay").value_or(0);
      if (auto j = b.FindMember("jitter"); j != b.MemberEnd() && j->value.IsNumber()) {
        backoff.jitter = j->value.GetDouble();
      }
      out.backoff = backoff;
    }
  }
  if (auto it = doc.FindMember("lifo"); it != doc.MemberEnd() && it->value.IsBool()) {
    out.lifo = it->value.GetBool();
  }
  out.priority = member_int(doc, "priority").value_or(0);
  out.delay_ms = member_int(doc, "delay").value_or(0);
  if (auto it = doc.FindMember("removeOnComplete"); it != doc.MemberEnd()) {
    KeepJobs k;
    if (parse_keep_jobs(it->value, k)) out.remove_on_complete = k;
  }
  if (auto it = doc.FindMember("removeOnFail"); it != doc.MemberEnd()) {
    KeepJobs k;
    if (parse_keep_jobs(it->value, k)) out.remove_on_fail = k;
  }
  out.keep_logs = member_int(doc, "kl");
  if (!out.keep_logs) out.keep_logs = member_int(doc, "keepLogs");
  out.stack_trace_limit = member_int(doc, "stackTraceLimit");
  out.prev_millis = member_int(doc, "prevMillis");
  if (auto it = doc.FindMember("repeat"); it != doc.MemberEnd() && it->value.IsObject()) {
    const Value& r = it->value;
    RepeatOptions repeat;
    if (auto p = r.FindMember("pattern"); p != r.MemberEnd() && p->value.IsString()) {
      repeat.pattern = p->value.GetString();
    }
    repeat.every_ms = member_int(r, "every");
    if (auto tz = r.FindMember("tz"); tz != r.MemberEnd() && tz->value.IsString()) {
      repeat.tz = tz->value.GetString();
    }
    if (auto u = r.FindMember("utc"); u != r.MemberEnd() && u->value.IsBool()) {
      repeat.utc = u->value.GetBool();
    }
    repeat.limit = member_int(r, "limit");
    repeat.count = member_int(r, "count").value_or(0);
    repeat.offset = member_int(r, "offset");
    repeat.start_date_ms = member_int(r, "startDate");
    repeat.end_date_ms = member_int(r, "endDate");
    out.repeat = repeat;
  }
  return {};
}

KeepJobs effective_keep_jobs(const std::optional<KeepJobs>& job_option,
                             const std::optional<KeepJobs>& worker_default) {
  if (job_option) return *job_option;
  if (worker_default) return *worker_default;
  return KeepJobs{-1, std::nullopt, std::nullopt};
}

}  // namespace bullmq
