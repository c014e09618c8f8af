#include "bullmq/new_job.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <stdexcept>
#include <string_view>

#include "bullmq/json.hpp"
#include "bullmq/script_args.hpp"

namespace bullmq {
namespace {

using rapidjson::Document;
using rapidjson::Value;

// Node's PRIORITY_LIMIT (2^21 - 1).
constexpr std::int64_t kPriorityLimit = (1 << 21) - 1;

[[noreturn]] void refuse(const bullmq_worker::NewJob& job, const std::string& what) {
  std::string message = "cannot add job '";
  message += job.name;
  message += "': ";
  message += what;
  throw std::invalid_argument(message);
}

std::string to_json(const Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

std::string text_of(const Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// JavaScript truthiness of a JSON value.
bool truthy(const Value* v) {
  if (!v || v->IsNull() || v->IsFalse()) return false;
  if (v->IsNumber()) return v->GetDouble() != 0 && !std::isnan(v->GetDouble());
  if (v->IsString()) return v->GetStringLength() > 0;
  return true;
}

const Value* member(const Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

// `${parseInt(id, 10)}` === id: a job id that reads as an integer would
// collide with Redis's own numbering.
bool integer_like(std::string_view id) {
  std::string_view digits = id;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 15) return false;
  if (digits.size() > 1 && digits.front() == '0') return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  return !(id == "-0");
}

// The one place where a new job's options take their final form, as Node's
// Queue.addJob and Job constructor give them: `attempts` first (0 unless
// given), `repeatJobKey` dropped, a numeric `backoff` made {type: fixed},
// and the running job as `parent` for a child; with a tracer, the producer
// span's context as `telemetry.metadata` (unless `telemetry.omitContext`).
Document finalize_options(const bullmq_worker::NewJob& job, const Value& given,
                          const std::optional<NewJobParent>& as_child_of,
                          const std::string& telemetry_metadata) {
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  out.AddMember("attempts", 0, a);
  for (const auto& m : given.GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (key == "repeatJobKey") continue;
    Value value(m.value, a);
    if (key == "attempts") {
      out["attempts"] = value;
      continue;
    }
    if (key == "backoff") {
      if (!truthy(&value) && !value.IsNumber()) continue;  // Backoffs.normalize: undefined
      if (value.IsNumber()) {
        Value fixed(rapidjson::kObjectType);
        fixed.AddMember("type", "fixed", a);
        fixed.AddMember("delay", value, a);
        value = fixed;
      }
    }
    out.AddMember(Value(m.name, a), value, a);
  }
  // Node's Queue.add under a tracer: the producer span's context becomes the
  // job's telemetry metadata, unless the options say omitContext.
  if (!telemetry_metadata.empty()) {
    Value* telemetry = out.HasMember("telemetry") ? &out["telemetry"] : nullptr;
    const Value* omit =
        telemetry && telemetry->IsObject() ? member(*telemetry, "omitContext") : nullptr;
    if (!(omit && omit->IsBool() && omit->GetBool())) {
      if (!telemetry || !telemetry->IsObject()) {
        out.RemoveMember("telemetry");
        out.AddMember("telemetry", Value(rapidjson::kObjectType), a);
        telemetry = &out["telemetry"];
      }
      telemetry->RemoveMember("metadata");
      telemetry->AddMember("metadata", Value(telemetry_metadata.c_str(), a), a);
    }
  }
  if (as_child_of) {
    if (out.HasMember("parent"))
      refuse(job, "a child of the running job takes it as its parent; drop the 'parent' option");
    Value parent(rapidjson::kObjectType);
    parent.AddMember("id", Value(as_child_of->id.c_str(), a), a);
    parent.AddMember("queue", Value(as_child_of->queue_key.c_str(), a), a);
    out.AddMember("parent", parent, a);
  }
  return out;
}

// Node's Queue.addJob and Job.validateOptions checks, in their words.
void validate(const bullmq_worker::NewJob& job, const Value& opts, const std::string& data,
              bool has_parent) {
  if (const Value* id = member(opts, "jobId"); id && !id->IsNull()) {
    if (!id->IsString()) refuse(job, "jobId must be a string");
    const std::string text = text_of(*id);
    if (text == "0" || text.starts_with("0:"))
      refuse(job, "JobId cannot be '0' or start with '0:'");
    if (!text.empty()) {
      if (integer_like(text)) refuse(job, "Custom Id cannot be integers");
      std::size_t colons = 0;
      for (char c : text) colons += c == ':';
      if (colons > 0 && colons != 2) refuse(job, "Custom Id cannot contain :");
    }
  }
  std::string exclusive;
  for (const char* option : {"removeDependencyOnFailure", "failParentOnFailure",
                             "continueParentOnFailure", "ignoreDependencyOnFailure"}) {
    if (!truthy(member(opts, option))) continue;
    if (!exclusive.empty()) exclusive += ", ";
    exclusive += option;
  }
  if (exclusive.find(',') != std::string::npos)
    refuse(job, "The following options cannot be used together: " + exclusive);
  if (const Value* limit = member(opts, "sizeLimit"); truthy(limit) && limit->IsNumber()) {
    if (static_cast<double>(data.size()) > limit->GetDouble()) {
      refuse(job, "The size of job " + job.name + " exceeds the limit " +
                      std::to_string(static_cast<std::int64_t>(limit->GetDouble())) + " bytes");
    }
  }
  if (const Value* priority = member(opts, "priority"); truthy(priority)) {
    if (!priority->IsNumber()) refuse(job, "priority must be a number");
    const double p = priority->GetDouble();
    if (std::trunc(p) != p) refuse(job, "Priority should not be float");
    if (p > static_cast<double>(kPriorityLimit))
      refuse(job,
             std::string("Priority should be between 0 and ") += std::to_string(kPriorityLimit));
  }
  if (const Value* dedup = member(opts, "deduplication"); truthy(dedup)) {
    if (!dedup->IsObject() || !truthy(member(*dedup, "id")))
      refuse(job, "Deduplication id must be provided");
    if (has_parent) refuse(job, "Deduplication and parent options cannot be used together");
  }
  if (member(opts, "debounce"))
    refuse(job, "Debounce option has been removed. Use deduplication option instead");
  if (const Value* backoff = member(opts, "backoff"); backoff && backoff->IsObject()) {
    if (const Value* jitter = member(*backoff, "jitter"); jitter && jitter->IsNumber()) {
      if (jitter->GetDouble() < 0 || jitter->GetDouble() > 1)
        refuse(job, "Jitter should be between 0 and 1");
    }
  }
  if (const Value* delay = member(opts, "delay"); delay && !delay->IsNull() && !delay->IsNumber())
    refuse(job, "delay must be a number of milliseconds");
}

// The options as Redis stores them (Node's optsAsJSON): long names of the
// compressed options replaced by their short keys, `telemetry` split.
std::string stored_options(const Value& opts) {
  static constexpr std::pair<std::string_view, const char*> kShort[] = {
      {"deduplication", "de"},
      {"failParentOnFailure", "fpof"},
      {"continueParentOnFailure", "cpof"},
      {"ignoreDependencyOnFailure", "idof"},
      {"keepLogs", "kl"},
      {"removeDependencyOnFailure", "rdof"},
  };
  Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  for (const auto& m : opts.GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (key == "telemetry") {
      if (!m.value.IsObject()) continue;
      if (const Value* metadata = member(m.value, "metadata"))
        out.AddMember("tm", Value(*metadata, a), a);
      if (const Value* omit = member(m.value, "omitContext"))
        out.AddMember("omc", Value(*omit, a), a);
      continue;
    }
    Value name(m.name, a);
    for (const auto& [long_name, short_name] : kShort) {
      if (key == long_name) name.SetString(rapidjson::StringRef(short_name));
    }
    out.AddMember(name, Value(m.value, a), a);
  }
  return to_json(out);
}

}  // namespace

NewJobPlan plan_new_job(const bullmq_worker::NewJob& job, const QueueKeys& target,
                        const std::optional<NewJobParent>& as_child_of, std::int64_t now_ms,
                        const std::string& telemetry_metadata) {
  if (target.queue().empty() || target.queue().find(':') != std::string::npos)
    refuse(job, "queue name '" + target.queue() + "' is empty or contains ':' (Node refuses both)");
  NewJobPlan plan;
  plan.name = job.name;
  plan.data = job.data.empty() ? std::string("{}") : job.data;
  if (!is_json(plan.data)) refuse(job, "its data is not valid JSON");

  Document given;
  const std::string opts_text = job.opts.empty() ? std::string("{}") : job.opts;
  given.Parse(opts_text.c_str(), opts_text.size());
  if (given.HasParseError() || !given.IsObject())
    refuse(job, "its options must be a JSON object (Node's JobsOptions)");
  if (job.as_child && !as_child_of) refuse(job, "a child needs the running job as its parent");

  Document opts =
      finalize_options(job, given, job.as_child ? as_child_of : std::nullopt, telemetry_metadata);

  // The flow parent: the running job (as_child) or a `parent` option.
  const Value* parent = member(opts, "parent");
  std::string parent_id;
  std::string parent_queue;
  if (parent && !parent->IsNull()) {
    const Value* id = parent->IsObject() ? member(*parent, "id") : nullptr;
    const Value* queue = parent->IsObject() ? member(*parent, "queue") : nullptr;
    if (!id || !id->IsString() || !queue || !queue->IsString())
      refuse(job, "option 'parent' must be {\"id\": string, \"queue\": \"<prefix>:<queue>\"}");
    parent_id = text_of(*id);
    parent_queue = text_of(*queue);
    plan.parent_key = parent_queue + ":" + parent_id;
  }
  validate(job, opts, plan.data, !plan.parent_key.empty());

  if (const Value* id = member(opts, "jobId"); id && id->IsString()) plan.job_id = text_of(*id);
  std::int64_t timestamp = now_ms;
  if (const Value* t = member(opts, "timestamp"); truthy(t) && t->IsNumber())
    timestamp = static_cast<std::int64_t>(t->GetDouble());
  if (const Value* delay = member(opts, "delay");
      delay && delay->IsNumber() && delay->GetDouble() > 0)
    plan.kind = NewJobPlan::Kind::kDelayed;
  else if (truthy(member(opts, "priority")))
    plan.kind = NewJobPlan::Kind::kPrioritized;

  plan.opts_json = to_json(opts);
  if (!pack_json_object(stored_options(opts), plan.packed_opts))
    refuse(job, "its options could not be encoded");

  // The script's argument array, as Node's addJobToTransaction builds it.
  Document args(rapidjson::kArrayType);
  auto& a = args.GetAllocator();
  args.PushBack(Value(target.base().c_str(), a), a);
  args.PushBack(Value(plan.job_id.c_str(), a), a);
  args.PushBack(Value(plan.name.c_str(), static_cast<rapidjson::SizeType>(plan.name.size()), a), a);
  args.PushBack(Value(timestamp), a);
  if (plan.parent_key.empty()) {
    args.PushBack(Value(), a).PushBack(Value(), a).PushBack(Value(), a);
  } else {
    args.PushBack(Value(plan.parent_key.c_str(), a), a);
    args.PushBack(Value((plan.parent_key + ":dependencies").c_str(), a), a);
    Value link(rapidjson::kObjectType);
    link.AddMember("id", Value(parent_id.c_str(), a), a);
    link.AddMember("queueKey", Value(parent_queue.c_str(), a), a);
    for (const auto& [option, flag] :
         {std::pair{"failParentOnFailure", "fpof"}, std::pair{"removeDependencyOnFailure", "rdof"},
          std::pair{"ignoreDependencyOnFailure", "idof"},
          std::pair{"continueParentOnFailure", "cpof"}}) {
      if (truthy(member(opts, option))) link.AddMember(rapidjson::StringRef(flag), true, a);
    }
    args.PushBack(link, a);
  }
  args.PushBack(Value(), a);  // repeat job key: never for an added job
  if (const Value* dedup = member(opts, "deduplication"); truthy(dedup)) {
    const Value& id = (*dedup)["id"];
    std::string key = target.key("de:");
    key += id.IsString() ? text_of(id) : to_json(id);
    args.PushBack(Value(key.c_str(), a), a);
  } else {
    args.PushBack(Value(), a);
  }
  args.PushBack(Value(), a);  // defer parent release: flows only
  if (!pack_json(to_json(args), plan.packed_args))
    refuse(job, "its arguments could not be encoded");
  return plan;
}

ScriptCall add_job_call(const QueueKeys& k, const NewJobPlan& plan,
                        const std::optional<ParentLock>& parent_lock) {
  const bool guarded = parent_lock.has_value();
  auto finish = [&](ScriptCall& call) {
    if (guarded) call.key(parent_lock->lock_key);
    call.arg(plan.packed_args).arg(plan.data).arg(plan.packed_opts);
    if (guarded) call.arg(parent_lock->token);
  };
  switch (plan.kind) {
    case NewJobPlan::Kind::kDelayed: {
      ScriptCall call(guarded ? ScriptId::kAddDelayedJobIfLocked : ScriptId::kAddDelayedJob);
      call.key(k.marker()).key(k.meta()).key(k.id()).key(k.delayed()).key(k.completed());
      call.key(k.events());
      finish(call);
      return call;
    }
    case NewJobPlan::Kind::kPrioritized: {
      ScriptCall call(guarded ? ScriptId::kAddPrioritizedJobIfLocked
                              : ScriptId::kAddPrioritizedJob);
      call.key(k.marker()).key(k.meta()).key(k.id()).key(k.prioritized()).key(k.delayed());
      call.key(k.completed()).key(k.active()).key(k.events()).key(k.priority_counter());
      finish(call);
      return call;
    }
    case NewJobPlan::Kind::kStandard:
      break;
  }
  ScriptCall call(guarded ? ScriptId::kAddStandardJobIfLocked : ScriptId::kAddStandardJob);
  call.key(k.wait()).key(k.paused()).key(k.meta()).key(k.id()).key(k.completed());
  call.key(k.delayed()).key(k.active()).key(k.events()).key(k.marker());
  finish(call);
  return call;
}

std::string add_job_error_message(int code, const NewJobPlan& plan) {
  switch (code) {
    case -2:
    case -6:
      return "addJob refused: the parent job " + plan.parent_key +
             " is no longer locked by this worker (its lock " +
             (code == -2 ? "expired" : "was taken over") + ")";
    case -5:
      return "Missing key for parent job " + plan.parent_key + ". addJob";
    case -7:
      return "The parent job " + plan.parent_key + " cannot be replaced. addJob";
    default:
      return std::string("Unknown code ") +=
             std::to_string(code) + " error for " + plan.job_id + ". addJob";
  }
}

}  // namespace bullmq
