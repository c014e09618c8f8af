#include "bullmq/finish_plan.hpp"

#include <cxxabi.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdlib>
#include <typeinfo>

#include "bullmq/json.hpp"
#include "bullmq/retry_plan.hpp"
#include "bullmq_worker/errors.hpp"

namespace bullmq {
namespace {

std::string type_name(const std::exception& e) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : typeid(e).name();
  std::free(demangled);
  return name;
}

Outcome unrecoverable_failure(const Job& job, const std::string& message) {
  return Outcome::failed(message, stack_entry("UnrecoverableError", message, job.name), true);
}

FinishPlan plan_failure(const Job& job, const std::string& message, const std::string& stack,
                        bool unrecoverable, const FinishRules& rules) {
  static const ProcessorRegistry kNoStrategies;
  const RetryPlan retry = plan_retry(
      job, message, unrecoverable, rules.max_started_attempts,
      rules.backoff_strategies ? *rules.backoff_strategies : kNoStrategies, rules.random);
  FinishPlan plan;
  plan.value = message + retry.note;
  plan.delay_ms = retry.delay_ms;
  plan.fields = failure_fields(job, plan.value, stack);
  plan.stack = stack;
  plan.unrecoverable = unrecoverable;
  if (!retry.retry) {
    plan.action = FinishPlan::Action::kFail;
    plan.keep_jobs = effective_keep_jobs(job.opts.remove_on_fail, rules.remove_on_fail);
  } else {
    plan.action =
        plan.delay_ms != 0 ? FinishPlan::Action::kRetryLater : FinishPlan::Action::kRetryNow;
  }
  return plan;
}

}  // namespace

Outcome Outcome::completed(std::string value) {
  Outcome o;
  o.kind = Kind::kCompleted;
  o.value = std::move(value);
  return o;
}

Outcome Outcome::failed(std::string message, std::string stack, bool unrecoverable) {
  Outcome o;
  o.kind = Kind::kFailed;
  o.value = std::move(message);
  o.stack = std::move(stack);
  o.unrecoverable = unrecoverable;
  return o;
}

Outcome Outcome::moved_by_processor() {
  Outcome o;
  o.kind = Kind::kMovedByProcessor;
  return o;
}

Outcome Outcome::rate_limited(std::string message) {
  Outcome o;
  o.kind = Kind::kRateLimited;
  o.value = std::move(message);
  return o;
}

Outcome Outcome::deferred(std::string message, std::string dependency) {
  Outcome o;
  o.kind = Kind::kDeferred;
  o.value = std::move(message);
  o.dependency = std::move(dependency);
  return o;
}

std::string stack_entry(const std::string& error_name, const std::string& message,
                        const std::string& job_name) {
  return error_name + ": " + message + "\n    at processor '" + job_name + "' (bullmq-worker)";
}

Outcome classify_run(const Job& job, const std::function<std::string()>& process) {
  try {
    std::string value = process();
    if (value.empty()) value = "null";
    if (!is_json(value)) {
      const std::string message =
          "processor for '" + job.name + "' returned a value that is not JSON";
      return Outcome::failed(message, stack_entry("Error", message, job.name), true);
    }
    return Outcome::completed(std::move(value));
  } catch (const bullmq_worker::DelayedError&) {
    return Outcome::moved_by_processor();
  } catch (const bullmq_worker::WaitingChildrenError&) {
    return Outcome::moved_by_processor();
  } catch (const bullmq_worker::WaitingError&) {
    return Outcome::moved_by_processor();
  } catch (const bullmq_worker::RateLimitError& e) {
    return Outcome::rate_limited(e.what());
  } catch (const bullmq_worker::UnrecoverableError& e) {
    return unrecoverable_failure(job, e.what());
  } catch (const bullmq_worker::DependencyUnavailable& e) {
    return Outcome::deferred(e.what(), e.dependency());
  } catch (const std::exception& e) {
    return Outcome::failed(e.what(), stack_entry(type_name(e), e.what(), job.name), false);
  } catch (...) {
    const std::string message = "processor threw a non-standard exception";
    return Outcome::failed(message, stack_entry("Error", message, job.name), false);
  }
}

std::optional<Outcome> outcome_without_running(const Job& job,
                                               std::optional<int> max_started_attempts) {
  if (!job.deferred_failure.empty()) return unrecoverable_failure(job, job.deferred_failure);
  if (max_started_attempts && *max_started_attempts < job.attempts_started)
    return unrecoverable_failure(job, "job started more than allowable limit");
  if (!job.opts_error.empty()) return unrecoverable_failure(job, job.opts_error);
  return std::nullopt;
}

bool FinishPlan::spends_attempt() const {
  switch (action) {
    case Action::kComplete:
    case Action::kFail:
    case Action::kRetryLater:
    case Action::kRetryNow:
      return true;
    case Action::kNothing:
    case Action::kBackToWait:
    case Action::kDefer:
      return false;
  }
  return false;
}

const char* FinishPlan::script() const {
  switch (action) {
    case Action::kNothing:
      return "";
    case Action::kBackToWait:
      return "moveJobFromActiveToWait";
    case Action::kComplete:
    case Action::kFail:
      return "moveToFinished";
    case Action::kRetryLater:
    case Action::kDefer:
      return "moveToDelayed";
    case Action::kRetryNow:
      return "retryJob";
  }
  return "";
}

FinishPlan plan_finish(const Job& job, Outcome outcome, const FinishRules& rules) {
  FinishPlan plan;
  switch (outcome.kind) {
    case Outcome::Kind::kCompleted:
      plan.action = FinishPlan::Action::kComplete;
      plan.value = std::move(outcome.value);
      plan.keep_jobs = effective_keep_jobs(job.opts.remove_on_complete, rules.remove_on_complete);
      return plan;
    case Outcome::Kind::kFailed:
      return plan_failure(job, outcome.value, outcome.stack, outcome.unrecoverable, rules);
    case Outcome::Kind::kMovedByProcessor:
      plan.action = FinishPlan::Action::kNothing;
      return plan;
    case Outcome::Kind::kRateLimited:
      plan.action = FinishPlan::Action::kBackToWait;
      plan.value = std::move(outcome.value);
      return plan;
    case Outcome::Kind::kDeferred:
      plan.action = FinishPlan::Action::kDefer;
      plan.value = std::move(outcome.value);
      plan.dependency = std::move(outcome.dependency);
      plan.delay_ms = kDeferDelayMs;
      // This claim is not a start of the job either: attemptsStarted (and so
      // --max-started-attempts) stays as it was before the claim.
      plan.fields = {"ats", std::to_string(std::max(job.attempts_started - 1, 0))};
      return plan;
  }
  return plan;
}

std::optional<FinishPlan> plan_after_refused_completion(const Job& job, ScriptCode code,
                                                        const FinishRules& rules) {
  if (code != ScriptCode::kPendingDependencies && code != ScriptCode::kFailedChildren)
    return std::nullopt;
  const bool unrecoverable = code == ScriptCode::kFailedChildren;
  const std::string message = describe(code, job.id, "moveToFinished");
  return plan_failure(
      job, message, stack_entry(unrecoverable ? "UnrecoverableError" : "Error", message, job.name),
      unrecoverable, rules);
}

bool recorded_by_earlier_send(bool resent, ScriptCode code) {
  return resent && (code == ScriptCode::kJobMissing || code == ScriptCode::kLockMissing ||
                    code == ScriptCode::kNotActive);
}

std::vector<std::string> failure_fields(const Job& job, const std::string& message,
                                        const std::string& stack) {
  rapidjson::Document stored;
  std::vector<std::string> entries;
  if (!job.stacktrace_json.empty()) {
    stored.Parse(job.stacktrace_json.c_str());
    if (!stored.HasParseError() && stored.IsArray()) {
      for (const auto& e : stored.GetArray()) {
        if (e.IsString()) entries.emplace_back(e.GetString(), e.GetStringLength());
      }
    }
  }
  if (!stack.empty()) entries.push_back(stack);
  if (job.opts.stack_trace_limit) {
    const auto limit =
        static_cast<std::size_t>(std::max<std::int64_t>(*job.opts.stack_trace_limit, 0));
    if (entries.size() > limit)
      entries.erase(entries.begin(), entries.end() - static_cast<std::ptrdiff_t>(limit));
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartArray();
  for (const auto& e : entries)
    writer.String(e.c_str(), static_cast<rapidjson::SizeType>(e.size()));
  writer.EndArray();
  return {"failedReason", message, "stacktrace", buffer.GetString()};
}

}  // namespace bullmq
