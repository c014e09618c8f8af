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

  out.priority = 0;
  out.delay_ms = 0;
  out.keep_logs.reset();
  out.stack_trace_limit.reset();
  out.prev_millis.reset();
  std::optional<std::int64_t> kl, keep_logs;
  const Value* repeat_value = nullptr;
  // One pass over the members (most jobs carry two or three), dispatching on
  // the name's length; the first of duplicate names wins, as with FindMember.
  std::uint32_t seen = 0;
  auto first = [&seen](int bit) {
    const bool fresh = (seen & (1u << bit)) == 0;
    seen |= 1u << bit;
    return fresh;
  };
  for (const auto& m : doc.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    const Value& v = m.value;
    if (name == "attempts" && first(0)) {
      if (auto n = as_int(v)) out.attempts = static_cast<int>(*n);
    } else if (name == "backoff" && first(1)) {
      if (v.IsNumber()) {
        out.backoff = BackoffOptions{"fixed", as_int(v).value_or(0), 0};
      } else if (v.IsObject()) {
        BackoffOptions backoff;
        if (auto t = v.FindMember("type"); t != v.MemberEnd() && t->value.IsString()) {
          backoff.type = t->value.GetString();
        }
        backoff.delay_ms = member_int(v, "delay").value_or(0);
        if (auto j = v.FindMember("jitter"); j != v.MemberEnd() && j->value.IsNumber()) {
          backoff.jitter = j->value.GetDouble();
        }
        out.backoff = backoff;
      }
    } else if (name == "lifo" && first(2)) {
      if (v.IsBool()) out.lifo = v.GetBool();
    } else if (name == "priority" && first(3)) {
      out.priority = as_int(v).value_or(0);
    } else if (name == "delay" && first(4)) {
      out.delay_ms = as_int(v).value_or(0);
    } else if (name == "removeOnComplete" && first(5)) {
      KeepJobs k;
      if (parse_keep_jobs(v, k)) out.remove_on_complete = k;
    } else if (name == "removeOnFail" && first(6)) {
      KeepJobs k;
      if (parse_keep_jobs(v, k)) out.remove_on_fail = k;
    } else if (name == "kl" && first(7)) {
      kl = as_int(v);
    } else if (name == "keepLogs" && first(8)) {
      keep_logs = as_int(v);
    } else if (name == "stackTraceLimit" && first(9)) {
      out.stack_trace_limit = as_int(v);
    } else if (name == "prevMillis" && first(10)) {
      out.prev_millis = as_int(v);
    } else if (name == "repeat" && first(11)) {
      repeat_value = &v;
    } else if (name == "tm" && first(12)) {
      if (v.IsString()) out.telemetry_metadata.assign(v.GetString(), v.GetStringLength());
    } else if (name == "omc" && first(13)) {
      out.telemetry_omit_context = v.IsBool() && v.GetBool();
    }
  }
  out.keep_logs = kl ? kl : keep_logs;
  if (repeat_value && repeat_value->IsObject()) {
    const Value& r = *repeat_value;
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
