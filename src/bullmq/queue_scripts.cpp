#include "bullmq/queue_scripts.hpp"

#include "bullmq/strings.hpp"

namespace bullmq {
namespace {

std::int64_t int_or_zero(const Reply& r) {
  return r.is_integer() ? r.integer : 0;
}

std::string fields_arg(const std::vector<std::string>& fields) {
  return fields.empty() ? std::string() : pack_string_array(fields);
}

}  // namespace

QueueScripts::QueueScripts(ScriptRunner& runner, QueueKeys keys)
    : runner_(runner), keys_(std::move(keys)) {
  const QueueKeys& k = keys_;
  finish_keys_ =
      encode_keys({k.wait(), k.active(), k.prioritized(), k.events(), k.stalled(), k.limiter(),
                   k.delayed(), k.paused(), k.meta(), k.priority_counter()});
  claim_keys_ = finish_keys_;
  claim_keys_.bytes += encode_keys({k.marker()}).bytes;
  claim_keys_.count += 1;
}

ClaimResult QueueScripts::decode_claim(Reply reply, std::string token) const {
  ClaimResult out;
  out.token = std::move(token);
  if (!reply.is_array() || reply.elements.size() < 4) {
    throw ProtocolError("unexpected claim reply " + reply.describe() + " on queue " +
                        keys_.queue());
  }
  auto& e = reply.elements;
  if (e[0].is_array() && e[1].is_string()) {
    out.job = std::make_unique<Job>();
    Job& job = *out.job;
    job.queue = keys_.queue();
    job.id = std::move(e[1].str);
    auto& fields = e[0].elements;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      job.apply_field(fields[i].str, std::move(fields[i + 1].str));
    }
    job.parse_options();
  }
  out.rate_limit_ms = int_or_zero(e[2]);
  out.next_delayed_ms = int_or_zero(e[3]);
  return out;
}

ScriptCall QueueScripts::move_to_active_call(const ClaimOptions& claim, std::int64_t now_ms) const {
  ScriptCall call(ScriptId::kMoveToActive);
  call.keys(
      claim_keys_);  // wait active prioritized events stalled limiter delayed paused meta pc marker
  call.arg(keys_.base()).arg(now_ms).arg(pack_claim_options(claim));
  return call;
}

ScriptCall QueueScripts::move_to_finished_call(
    const Job& job, const ClaimOptions& claim, bool completed, const std::string& value,
    const KeepJobs& keep_jobs, const std::vector<std::string>& fields, bool fetch_next,
    std::optional<std::int64_t> max_metrics_size, std::int64_t now_ms,
    PackedFinishOptions* packed_options) const {
  ScriptCall call(ScriptId::kMoveToFinished);
  call.keys(finish_keys_);  // wait active prioritized events stalled limiter delayed paused meta pc
  call.key(completed ? keys_.completed() : keys_.failed());
  call.key(keys_.base(), job.id);
  call.key(completed ? keys_.metrics_completed() : keys_.metrics_failed());
  call.key(keys_.marker());
  call.arg(job.id).arg(now_ms).arg(completed ? "returnvalue" : "failedReason").arg(value);
  call.arg(completed ? "completed" : "failed").arg(fetch_next ? "1" : "0").arg(keys_.base());
  if (packed_options)
    call.arg(packed_options->get(claim, keep_jobs, job.opts.attempts, max_metrics_size));
  else
    call.arg(pack_finish_options(claim, keep_jobs, job.opts.attempts, max_metrics_size));
  call.arg(fields_arg(fields));
  return call;
}

ScriptCall QueueScripts::move_to_delayed_call(const Job& job, const ClaimOptions& claim,
                                              std::int64_t delay_ms, bool skip_attempt,
                                              const std::vector<std::string>& fields,
                                              bool fetch_next, std::int64_t now_ms) const {
  ScriptCall call(ScriptId::kMoveToDelayed);
  call.key(keys_.marker()).key(keys_.active()).key(keys_.prioritized()).key(keys_.delayed());
  call.key(keys_.base(), job.id).key(keys_.events()).key(keys_.meta()).key(keys_.stalled());
  call.key(keys_.wait()).key(keys_.limiter()).key(keys_.priority_counter());
  call.arg(keys_.base()).arg(now_ms).arg(job.id).arg(claim.token).arg(delay_ms);
  call.arg(skip_attempt ? "1" : "0").arg(fields_arg(fields)).arg(fetch_next ? "1" : "0");
  call.arg(fetch_next ? pack_claim_options(claim) : std::string());
  return call;
}

ScriptCall QueueScripts::retry_job_call(const Job& job, const std::string& token,
                                        const std::vector<std::string>& fields,
                                        std::int64_t now_ms) const {
  ScriptCall call(ScriptId::kRetryJob);
  call.key(keys_.active()).key(keys_.wait()).key(keys_.paused()).key(keys_.base(), job.id);
  call.key(keys_.meta()).key(keys_.events()).key(keys_.delayed()).key(keys_.prioritized());
  call.key(keys_.priority_counter()).key(keys_.marker()).key(keys_.stalled());
  call.arg(keys_.base()).arg(now_ms).arg(job.opts.lifo ? "RPUSH" : "LPUSH").arg(job.id);
  call.arg(token).arg(fields_arg(fields));
  return call;
}

FinishResult QueueScripts::decode_finish(Reply r) const {
  FinishResult out;
  if (r.is_integer()) {
    out.code = script_code(r.integer);
  } else if (r.is_array()) {
    out.next = decode_claim(std::move(r), std::string());
  }
  return out;
}

awaitable<ClaimResult> QueueScripts::move_to_active(ClaimOptions claim, std::int64_t now_ms) {
  ScriptCall call = move_to_active_call(claim, now_ms);
  Reply r = co_await execute(std::move(call));
  co_return decode_claim(std::move(r), std::move(claim.token));
}

awaitable<FinishResult> QueueScripts::move_to_delayed(const Job& job, ClaimOptions claim,
                                                      std::int64_t delay_ms, bool skip_attempt,
                                                      std::vector<std::string> fields,
                                                      bool fetch_next, std::int64_t now_ms) {
  ScriptCall call =
      move_to_delayed_call(job, claim, delay_ms, skip_attempt, fields, fetch_next, now_ms);
  Reply r = co_await execute(std::move(call));
  co_return decode_finish(std::move(r));
}

awaitable<std::int64_t> QueueScripts::move_job_from_active_to_wait(std::string job_id,
                                                                   std::string token) {
  ScriptCall call(ScriptId::kMoveJobFromActiveToWait);
  call.key(keys_.active()).key(keys_.wait()).key(keys_.stalled()).key(keys_.paused());
  call.key(keys_.meta()).key(keys_.limiter()).key(keys_.prioritized()).key(keys_.marker());
  call.key(keys_.events());
  call.arg(job_id).arg(token).arg(keys_.job(job_id));
  Reply r = co_await execute(std::move(call));
  const std::int64_t reply = int_or_zero(r);
  const ScriptCode code = script_code(reply);
  if (code != ScriptCode::kOk)
    throw ScriptRefused(code, describe(code, job_id, "moveJobFromActiveToWait"));
  co_return reply;
}

awaitable<bool> QueueScripts::move_to_waiting_children(std::string job_id, std::string token,
                                                       std::int64_t now_ms) {
  ScriptCall call(ScriptId::kMoveToWaitingChildren);
  call.key(keys_.active()).key(keys_.waiting_children()).key(keys_.job(job_id));
  call.key(keys_.job_dependencies(job_id)).key(keys_.job_unsuccessful(job_id));
  call.key(keys_.stalled()).key(keys_.events());
  call.arg(token).arg("").arg(now_ms).arg(job_id).arg(keys_.base());
  Reply r = co_await execute(std::move(call));
  const std::int64_t reply = int_or_zero(r);
  if (reply == 1) co_return false;  // no pending child
  const ScriptCode code = script_code(reply);
  if (code != ScriptCode::kOk)
    throw ScriptRefused(code, describe(code, job_id, "moveToWaitingChildren"));
  co_return true;
}

awaitable<std::vector<std::string>> QueueScripts::move_stalled_jobs_to_wait(
    int max_stalled_count, std::int64_t stalled_interval_ms, std::int64_t now_ms) {
  ScriptCall call(ScriptId::kMoveStalledJobsToWait);
  call.key(keys_.stalled()).key(keys_.wait()).key(keys_.active()).key(keys_.stalled_check());
  call.key(keys_.meta()).key(keys_.paused()).key(keys_.marker()).key(keys_.events());
  call.key(keys_.repeat());
  call.arg(std::int64_t{max_stalled_count}).arg(keys_.base()).arg(now_ms).arg(stalled_interval_ms);
  Reply r = co_await execute(std::move(call));
  std::vector<std::string> ids;
  for (const auto& e : r.elements) ids.push_back(e.str);
  co_return std::move(ids);
}

awaitable<std::vector<std::string>> QueueScripts::extend_locks(std::vector<std::string> job_ids,
                                                               std::vector<std::string> tokens,
                                                               std::int64_t duration_ms) {
  ScriptCall call(ScriptId::kExtendLocks);
  call.key(keys_.stalled());
  call.arg(keys_.base()).arg(pack_string_array(tokens)).arg(pack_string_array(job_ids));
  call.arg(duration_ms);
  Reply r = co_await execute(std::move(call));
  std::vector<std::string> failed;
  for (const auto& e : r.elements) failed.push_back(e.str);
  co_return std::move(failed);
}

ScriptCall QueueScripts::update_progress_call(const std::string& job_id, const std::string& token,
                                              const std::string& json) const {
  ScriptCall call(ScriptId::kUpdateProgressIfLocked);
  call.key(keys_.job(job_id)).key(keys_.events()).key(keys_.meta()).key(keys_.job_lock(job_id));
  call.arg(job_id).arg(json).arg(token);
  return call;
}

awaitable<int> QueueScripts::update_progress(std::string job_id, std::string token,
                                             std::string json) {
  Reply r = co_await execute(update_progress_call(job_id, token, json));
  co_return static_cast<int>(int_or_zero(r));
}

ScriptCall QueueScripts::add_log_call(const std::string& job_id, const std::string& token,
                                      const std::string& row,
                                      std::optional<std::int64_t> keep_logs) const {
  ScriptCall call(ScriptId::kAddLogIfLocked);
  call.key(keys_.job(job_id)).key(keys_.job_logs(job_id)).key(keys_.job_lock(job_id));
  call.arg(job_id).arg(row);
  // Always present: the token is the argument after it.
  if (keep_logs) {
    call.arg(*keep_logs);
  } else {
    call.arg("");
  }
  call.arg(token);
  return call;
}

awaitable<std::int64_t> QueueScripts::add_log(std::string job_id, std::string token,
                                              std::string row,
                                              std::optional<std::int64_t> keep_logs) {
  Reply r = co_await execute(add_log_call(job_id, token, row, keep_logs));
  co_return int_or_zero(r);
}

ScriptCall QueueScripts::update_data_call(const std::string& job_id, const std::string& token,
                                          const std::string& json) const {
  ScriptCall call(ScriptId::kUpdateDataIfLocked);
  call.key(keys_.job(job_id)).key(keys_.job_lock(job_id));
  call.arg(json).arg(token);
  return call;
}

awaitable<int> QueueScripts::update_data(std::string job_id, std::string token, std::string json) {
  Reply r = co_await execute(update_data_call(job_id, token, json));
  co_return static_cast<int>(int_or_zero(r));
}

awaitable<std::optional<std::string>> QueueScripts::update_job_scheduler(
    std::string scheduler_id, std::optional<std::int64_t> next_ms, std::string packed_opts,
    std::string producer_id, std::int64_t now_ms) {
  ScriptCall call(ScriptId::kUpdateJobScheduler);
  call.key(keys_.repeat()).key(keys_.delayed()).key(keys_.wait()).key(keys_.paused());
  call.key(keys_.meta()).key(keys_.prioritized()).key(keys_.marker()).key(keys_.id());
  call.key(keys_.events()).key(keys_.priority_counter()).key(keys_.job(producer_id));
  call.key(keys_.active());
  if (next_ms) {
    call.arg(*next_ms);
  } else {
    call.arg("");
  }
  call.arg(scheduler_id).arg("{}").arg(packed_opts).arg(now_ms).arg(keys_.base()).arg(producer_id);
  Reply r = co_await execute(std::move(call));
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
  co_return std::move(out);
}

ScriptCall QueueScripts::dependency_counts_call(const std::string& job_id) const {
  ScriptCall call(ScriptId::kGetDependencyCounts);
  call.key(keys_.job_processed(job_id)).key(keys_.job_dependencies(job_id));
  call.key(keys_.job_failed(job_id)).key(keys_.job_unsuccessful(job_id));
  call.arg("processed").arg("unprocessed").arg("ignored").arg("failed");
  return call;
}

ScriptCall QueueScripts::remove_unprocessed_children_call(const std::string& job_id,
                                                          const std::string& token) const {
  ScriptCall call(ScriptId::kRemoveUnprocessedChildrenIfLocked);
  call.key(keys_.job(job_id)).key(keys_.meta()).key(keys_.job_lock(job_id));
  call.arg(keys_.base()).arg(job_id).arg(token);
  return call;
}

awaitable<bullmq_worker::Dependencies> QueueScripts::dependencies(std::string job_id) {
  RedisConnection& c = runner_.connection();
  std::vector<Reply> replies;
  replies.push_back(co_await c.command(strings("HGETALL", keys_.job_processed(job_id))));
  replies.push_back(co_await c.command(strings("SMEMBERS", keys_.job_dependencies(job_id))));
  replies.push_back(co_await c.command(strings("HGETALL", keys_.job_failed(job_id))));
  replies.push_back(
      co_await c.command(strings("ZRANGE", keys_.job_unsuccessful(job_id), "0", "-1")));
  for (const auto& r : replies) {
    if (r.is_error())
      throw ServerError("dependencies of job " + job_id + " on queue " + keys_.queue() + ": " +
                        r.str);
  }
  bullmq_worker::Dependencies out;
  auto& e0 = replies[0].elements;
  for (std::size_t i = 0; i + 1 < e0.size(); i += 2) out.processed[e0[i].str] = e0[i + 1].str;
  for (auto& e : replies[1].elements) out.unprocessed.push_back(std::move(e.str));
  auto& e2 = replies[2].elements;
  for (std::size_t i = 0; i + 1 < e2.size(); i += 2) out.ignored[e2[i].str] = e2[i + 1].str;
  for (auto& e : replies[3].elements) out.failed.push_back(std::move(e.str));
  co_return std::move(out);
}

awaitable<bullmq_worker::DependencyCounts> QueueScripts::dependency_counts(std::string job_id) {
  Reply r = co_await execute(dependency_counts_call(job_id));
  if (!r.is_array() || r.elements.size() != 4)
    throw ProtocolError("unexpected getDependencyCounts reply " + r.describe() + " for job " +
                        job_id + " on queue " + keys_.queue());
  bullmq_worker::DependencyCounts out;
  out.processed = int_or_zero(r.elements[0]);
  out.unprocessed = int_or_zero(r.elements[1]);
  out.ignored = int_or_zero(r.elements[2]);
  out.failed = int_or_zero(r.elements[3]);
  co_return out;
}

awaitable<int> QueueScripts::remove_unprocessed_children(std::string job_id, std::string token) {
  Reply r = co_await execute(remove_unprocessed_children_call(job_id, token));
  if (r.is_error())
    throw ServerError("removeUnprocessedChildren of job " + job_id + " on queue " + keys_.queue() +
                      ": " + r.str);
  co_return static_cast<int>(int_or_zero(r));
}

awaitable<void> QueueScripts::set_rate_limit(std::int64_t ms) {
  // Node sets Number.MAX_SAFE_INTEGER.
  Reply r = co_await runner_.connection().command(
      strings("SET", keys_.limiter(), "9007199254740991", "PX", std::to_string(ms)));
  if (r.is_error()) {
    throw ServerError("rate limit of queue " + keys_.queue() + ": " + r.str);
  }
}

}  // namespace bullmq
