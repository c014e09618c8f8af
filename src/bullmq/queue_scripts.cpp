#include "bullmq/queue_scripts.hpp"

#include "bullmq/strings.hpp"

namespace bullmq {
namespace {

std::int64_t int_or_zero(const Reply& r) {
  return r.is_integer() ? r.integer : 0;
}

std::string fields_arg(std::vector<std::string> fields) {
  return fields.empty() ? std::string() : pack_string_array(fields);
}

}  // namespace

std::string finish_error_message(int code, const std::string& job_id, const std::string& command) {
  switch (code) {
    case -1:
      return "Missing key for job " + job_id + ". " + command;
    case -2:
      return "Missing lock for job " + job_id + ". " + command;
    case -3:
      return "Job " + job_id + " is not in the active state. " + command;
    case -4:
      return "Job " + job_id + " has pending dependencies. " + command;
    case -6:
      return "Lock mismatch for job " + job_id + ". Cmd " + command + " from active";
    case -9:
      return "Cannot complete job " + job_id + " because it has at least one failed child. " +
             command;
    default:
      return "Unknown code " + std::to_string(code) + " error for " + job_id + ". " + command;
  }
}

ClaimResult QueueScripts::decode_claim(Reply reply, const std::string& token) const {
  ClaimResult out;
  out.token = token;
  if (!reply.is_array() || reply.elements.size() < 4) {
    throw ProtocolError("unexpected claim reply " + reply.describe() + " on queue " +
                        keys_.queue());
  }
  auto& e = reply.elements;
  if (e[0].is_array() && e[1].is_string()) {
    std::vector<std::string> flat;
    flat.reserve(e[0].elements.size());
    for (auto& f : e[0].elements) flat.push_back(std::move(f.str));
    out.job = Job::from_hash(keys_.queue(), std::move(e[1].str), std::move(flat));
  }
  out.rate_limit_ms = int_or_zero(e[2]);
  out.next_delayed_ms = int_or_zero(e[3]);
  return out;
}

ScriptCall QueueScripts::move_to_active_call(const ClaimOptions& claim, std::int64_t now_ms) const {
  return {ScriptId::kMoveToActive,
          strings(keys_.wait(), keys_.active(), keys_.prioritized(), keys_.events(),
                  keys_.stalled(), keys_.limiter(), keys_.delayed(), keys_.paused(), keys_.meta(),
                  keys_.priority_counter(), keys_.marker()),
          strings(keys_.base(), std::to_string(now_ms), pack_claim_options(claim))};
}

ScriptCall QueueScripts::move_to_finished_call(
    const Job& job, const ClaimOptions& claim, bool completed, const std::string& value,
    const KeepJobs& keep_jobs, const std::vector<std::string>& fields, bool fetch_next,
    std::optional<std::int64_t> max_metrics_size, std::int64_t now_ms) const {
  const char* target = completed ? "completed" : "failed";
  return {ScriptId::kMoveToFinished,
          strings(keys_.wait(), keys_.active(), keys_.prioritized(), keys_.events(),
                  keys_.stalled(), keys_.limiter(), keys_.delayed(), keys_.paused(), keys_.meta(),
                  keys_.priority_counter(), completed ? keys_.completed() : keys_.failed(),
                  keys_.job(job.id), completed ? keys_.metrics_completed() : keys_.metrics_failed(),
                  keys_.marker()),
          strings(job.id, std::to_string(now_ms), completed ? "returnvalue" : "failedReason", value,
                  target, fetch_next ? "1" : "0", keys_.base(),
                  pack_finish_options(claim, keep_jobs, job.opts.attempts, max_metrics_size),
                  fields_arg(fields))};
}

ScriptCall QueueScripts::move_to_delayed_call(const Job& job, const ClaimOptions& claim,
                                              std::int64_t delay_ms, bool skip_attempt,
                                              const std::vector<std::string>& fields,
                                              bool fetch_next, std::int64_t now_ms) const {
  std::string claim_arg;
  if (fetch_next) claim_arg = pack_claim_options(claim);
  return {ScriptId::kMoveToDelayed,
          strings(keys_.marker(), keys_.active(), keys_.prioritized(), keys_.delayed(),
                  keys_.job(job.id), keys_.events(), keys_.meta(), keys_.stalled(), keys_.wait(),
                  keys_.limiter(), keys_.priority_counter()),
          strings(keys_.base(), std::to_string(now_ms), job.id, claim.token,
                  std::to_string(delay_ms), skip_attempt ? "1" : "0", fields_arg(fields),
                  fetch_next ? "1" : "0", std::move(claim_arg))};
}

ScriptCall QueueScripts::retry_job_call(const Job& job, const std::string& token,
                                        const std::vector<std::string>& fields,
                                        std::int64_t now_ms) const {
  return {ScriptId::kRetryJob,
          strings(keys_.active(), keys_.wait(), keys_.paused(), keys_.job(job.id), keys_.meta(),
                  keys_.events(), keys_.delayed(), keys_.prioritized(), keys_.priority_counter(),
                  keys_.marker(), keys_.stalled()),
          strings(keys_.base(), std::to_string(now_ms), job.opts.lifo ? "RPUSH" : "LPUSH", job.id,
                  token, fields_arg(fields))};
}

FinishResult QueueScripts::decode_finish(Reply r, const std::string& token) const {
  FinishResult out;
  if (r.is_integer()) {
    out.error_code = static_cast<int>(r.integer < 0 ? r.integer : 0);
  } else if (r.is_array()) {
    out.next = decode_claim(std::move(r), token);
  }
  return out;
}

awaitable<Reply> QueueScripts::execute(ScriptCall call) {
  co_return co_await runner_.run(call.id, std::move(call.keys), std::move(call.args));
}

awaitable<ClaimResult> QueueScripts::move_to_active(ClaimOptions claim, std::int64_t now_ms) {
  ScriptCall call = move_to_active_call(claim, now_ms);
  Reply r = co_await execute(std::move(call));
  co_return decode_claim(std::move(r), claim.token);
}

awaitable<FinishResult> QueueScripts::move_to_finished(
    const Job& job, ClaimOptions claim, bool completed, std::string value, KeepJobs keep_jobs,
    std::vector<std::string> fields, bool fetch_next, std::optional<std::int64_t> max_metrics_size,
    std::int64_t now_ms) {
  ScriptCall call = move_to_finished_call(job, claim, completed, value, keep_jobs, fields,
                                          fetch_next, max_metrics_size, now_ms);
  Reply r = co_await execute(std::move(call));
  co_return decode_finish(r, claim.token);
}

awaitable<FinishResult> QueueScripts::move_to_delayed(const Job& job, ClaimOptions claim,
                                                      std::int64_t delay_ms, bool skip_attempt,
                                                      std::vector<std::string> fields,
                                                      bool fetch_next, std::int64_t now_ms) {
  ScriptCall call =
      move_to_delayed_call(job, claim, delay_ms, skip_attempt, fields, fetch_next, now_ms);
  Reply r = co_await execute(std::move(call));
  co_return decode_finish(r, claim.token);
}

awaitable<int> QueueScripts::retry_job(const Job& job, std::string token,
                                       std::vector<std::string> fields, std::int64_t now_ms) {
  ScriptCall call = retry_job_call(job, token, fields, now_ms);
  Reply r = co_await execute(std::move(call));
  co_return static_cast<int>(int_or_zero(r));
}

awaitable<std::int64_t> QueueScripts::move_job_from_active_to_wait(std::string job_id,
                                                                   std::string token) {
  ScriptCall call{
      ScriptId::kMoveJobFromActiveToWait,
      strings(keys_.active(), keys_.wait(), keys_.stalled(), keys_.paused(), keys_.meta(),
              keys_.limiter(), keys_.prioritized(), keys_.marker(), keys_.events()),
      strings(job_id, token, keys_.job(job_id))};
  Reply r = co_await execute(std::move(call));
  co_return int_or_zero(r);
}

awaitable<int> QueueScripts::move_to_waiting_children(std::string job_id, std::string token,
                                                      std::int64_t now_ms) {
  ScriptCall call{ScriptId::kMoveToWaitingChildren,
                  strings(keys_.active(), keys_.waiting_children(), keys_.job(job_id),
                          keys_.job_dependencies(job_id), keys_.job_unsuccessful(job_id),
                          keys_.stalled(), keys_.events()),
                  strings(token, "", std::to_string(now_ms), job_id, keys_.base())};
  Reply r = co_await execute(std::move(call));
  co_return static_cast<int>(int_or_zero(r));
}

awaitable<std::vector<std::string>> QueueScripts::move_stalled_jobs_to_wait(
    int max_stalled_count, std::int64_t stalled_interval_ms, std::int64_t now_ms) {
  Reply r = co_await runner_.run(
      ScriptId::kMoveStalledJobsToWait,
      strings(keys_.stalled(), keys_.wait(), keys_.active(), keys_.stalled_check(), keys_.meta(),
              keys_.paused(), keys_.marker(), keys_.events(), keys_.repeat()),
      strings(std::to_string(max_stalled_count), keys_.base(), std::to_string(now_ms),
              std::to_string(stalled_interval_ms)));
  std::vector<std::string> ids;
  for (const auto& e : r.elements) ids.push_back(e.str);
  co_return ids;
}

awaitable<std::vector<std::string>> QueueScripts::extend_locks(std::vector<std::string> job_ids,
                                                               std::vector<std::string> tokens,
                                                               std::int64_t duration_ms) {
  Reply r = co_await runner_.run(ScriptId::kExtendLocks, strings(keys_.stalled()),
                                 strings(keys_.base(), pack_string_array(tokens),
                                         pack_string_array(job_ids), std::to_string(duration_ms)));
  std::vector<std::string> failed;
  for (const auto& e : r.elements) failed.push_back(e.str);
  co_return failed;
}

awaitable<int> QueueScripts::update_progress(std::string job_id, std::string json) {
  Reply r = co_await runner_.run(ScriptId::kUpdateProgress,
                                 strings(keys_.job(job_id), keys_.events(), keys_.meta()),
                                 strings(job_id, json));
  co_return static_cast<int>(int_or_zero(r));
}

awaitable<std::int64_t> QueueScripts::add_log(std::string job_id, std::string row,
                                              std::optional<std::int64_t> keep_logs) {
  std::string keep;
  if (keep_logs) keep = std::to_string(*keep_logs);
  ScriptCall call{ScriptId::kAddLog, strings(keys_.job(job_id), keys_.job_logs(job_id)),
                  strings(job_id, row, std::move(keep))};
  Reply r = co_await execute(std::move(call));
  co_return int_or_zero(r);
}

awaitable<int> QueueScripts::update_data(std::string job_id, std::string json) {
  Reply r = co_await runner_.run(ScriptId::kUpdateData, strings(keys_.job(job_id)), strings(json));
  co_return static_cast<int>(int_or_zero(r));
}

awaitable<std::optional<std::string>> QueueScripts::update_job_scheduler(
    std::string scheduler_id, std::optional<std::int64_t> next_ms, std::string packed_opts,
    std::string producer_id, std::int64_t now_ms) {
  std::string next;
  if (next_ms) next = std::to_string(*next_ms);
  Reply r = co_await runner_.run(
      ScriptId::kUpdateJobScheduler,
      strings(keys_.repeat(), keys_.delayed(), keys_.wait(), keys_.paused(), keys_.meta(),
              keys_.prioritized(), keys_.marker(), keys_.id(), keys_.events(),
              keys_.priority_counter(), keys_.job(producer_id), keys_.active()),
      strings(std::move(next), scheduler_id, "{}", packed_opts, std::to_string(now_ms),
              keys_.base(), producer_id));
  if (r.is_string()) co_return r.str;
  co_return std::nullopt;
}

awaitable<std::vector<std::pair<std::string, std::string>>> QueueScripts::hash_entries(
    std::string key) {
  Reply r = co_await runner_.connection().command(strings("HGETALL", key));
  if (r.is_error()) throw ServerError("HGETALL " + key + ": " + r.str);
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    out.emplace_back(r.elements[i].str, r.elements[i + 1].str);
  }
  co_return out;
}

}  // namespace bullmq
