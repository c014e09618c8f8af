// Typed calls of the worker-side BullMQ scripts for one queue: each method
// builds the KEYS and ARGV the script expects (protocol reference §3) and
// decodes its reply. Knows nothing of processing; owned by the Worker.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bullmq/asio.hpp"
#include "bullmq/job.hpp"
#include "bullmq/keys.hpp"
#include "bullmq/lock_store.hpp"
#include "bullmq/script_args.hpp"
#include "bullmq/script_codes.hpp"
#include "bullmq/script_runner.hpp"
#include "bullmq/stalled_checker.hpp"
#include "bullmq_worker/job_context.hpp"

namespace bullmq {

// What a claim returns (moveToActive, or a finishing script fetching next).
struct ClaimResult {
  // The lock token moveToActive claimed with; empty for the job a finishing
  // script claimed next (it runs under its slot's token, which the caller has).
  std::string token;
  std::unique_ptr<Job> job;        // held by pointer: a Job is large and is handed on several times
  std::int64_t rate_limit_ms = 0;  // > 0: the queue is rate limited this long
  std::int64_t next_delayed_ms = 0;  // > 0: due time of the earliest delayed job
};

// The outcome of a finishing script: a negative BullMQ error code, or done
// (optionally with the next job claimed in the same call).
struct FinishResult {
  ScriptCode code = ScriptCode::kOk;
  std::optional<ClaimResult> next;
  // The script was asked for the next job (set by the worker): with kOk and
  // no `next`, the queue had none to give.
  bool asked_next = false;
};

// Coroutine methods take their arguments by value (they run after the call
// expression has ended, so references to temporaries would dangle), except
// `job`, which the caller keeps alive until the call completes.
class QueueScripts : public LockStore, public StalledStore {
 public:
  QueueScripts(ScriptRunner& runner, QueueKeys keys);
  const QueueKeys& keys() const { return keys_; }
  // The command connection, for plain commands next to the scripts.
  RedisConnection& connection() { return runner_.connection(); }

  awaitable<ClaimResult> move_to_active(ClaimOptions claim, std::int64_t now_ms);

  // The finishing scripts (moveToFinished, retryJob) are sent by the Worker
  // from their *_call() below; moveToDelayed is also a processor's call.
  awaitable<FinishResult> move_to_delayed(const Job& job, ClaimOptions claim, std::int64_t delay_ms,
                                          bool skip_attempt, std::vector<std::string> fields,
                                          bool fetch_next, std::int64_t now_ms);

  // Gives an active job back to the front of wait (no attempt counted).
  // Returns the queue's rate-limit time left in ms (0: not limited). Throws
  // ScriptRefused (lock gone or another's, job not active).
  awaitable<std::int64_t> move_job_from_active_to_wait(std::string job_id, std::string token);

  // Parks an active parent in waiting-children: true when it was moved,
  // false when no child is pending (it stays active). Throws ScriptRefused
  // (kFailedChildren: a child failed with failParentOnFailure).
  awaitable<bool> move_to_waiting_children(std::string job_id, std::string token,
                                           std::int64_t now_ms);

  awaitable<std::vector<std::string>> move_stalled_jobs_to_wait(int max_stalled_count,
                                                                std::int64_t stalled_interval_ms,
                                                                std::int64_t now_ms) override;

  // Returns the ids whose lock could not be renewed.
  awaitable<std::vector<std::string>> extend_locks(std::vector<std::string> job_ids,
                                                   std::vector<std::string> tokens,
                                                   std::int64_t duration_ms) override;

  // A processor's writes into its own job (Node's updateProgress, log and
  // updateData). Each runs only while the job's lock still holds `token`, in
  // the same script as the write (no window for a frozen worker to write into
  // a job that was finished or taken over meanwhile); -2 / -6 otherwise.
  awaitable<int> update_progress(std::string job_id, std::string token, std::string json);
  awaitable<std::int64_t> add_log(std::string job_id, std::string token, std::string row,
                                  std::optional<std::int64_t> keep_logs);
  awaitable<int> update_data(std::string job_id, std::string token, std::string json);

  // Returns the new iteration's id, or nullopt (already there / scheduler gone).
  awaitable<std::optional<std::string>> update_job_scheduler(std::string scheduler_id,
                                                             std::optional<std::int64_t> next_ms,
                                                             std::string packed_opts,
                                                             std::string producer_id,
                                                             std::int64_t now_ms);

  // Plain reads used by processors of flow parents.
  awaitable<std::vector<std::pair<std::string, std::string>>> hash_entries(std::string key);

  // Node's job.getDependencies(): a flow parent's children by state.
  awaitable<bullmq_worker::Dependencies> dependencies(std::string job_id);
  // Node's job.getDependenciesCount() (getDependencyCounts script).
  awaitable<bullmq_worker::DependencyCounts> dependency_counts(std::string job_id);
  // Node's job.removeUnprocessedChildren(), only while the lock holds `token`
  // (0, or -2 / -6 as the writes above).
  awaitable<int> remove_unprocessed_children(std::string job_id, std::string token);
  // Node's worker.rateLimit(ms): the limiter key holds a count no limiter
  // reaches, expiring after `ms`.
  awaitable<void> set_rate_limit(std::int64_t ms);

  // Runs a prepared invocation.
  awaitable<Reply> execute(ScriptCall call) { return runner_.run(std::move(call)); }

  // ClaimResult from a 4-element claim reply.
  ClaimResult decode_claim(Reply reply, std::string token) const;
  FinishResult decode_finish(Reply reply) const;

  // The invocations, built without running them (what the coroutines above
  // send; also what the unit tests check against the protocol reference).
  ScriptCall move_to_active_call(const ClaimOptions& claim, std::int64_t now_ms) const;
  // With `packed_options`, the options map comes from (and is kept in) it.
  ScriptCall move_to_finished_call(const Job& job, const ClaimOptions& claim, bool completed,
                                   const std::string& value, const KeepJobs& keep_jobs,
                                   const std::vector<std::string>& fields, bool fetch_next,
                                   std::optional<std::int64_t> max_metrics_size,
                                   std::int64_t now_ms,
                                   PackedFinishOptions* packed_options = nullptr) const;
  ScriptCall move_to_delayed_call(const Job& job, const ClaimOptions& claim, std::int64_t delay_ms,
                                  bool skip_attempt, const std::vector<std::string>& fields,
                                  bool fetch_next, std::int64_t now_ms) const;
  ScriptCall retry_job_call(const Job& job, const std::string& token,
                            const std::vector<std::string>& fields, std::int64_t now_ms) const;
  ScriptCall dependency_counts_call(const std::string& job_id) const;
  ScriptCall update_progress_call(const std::string& job_id, const std::string& token,
                                  const std::string& json) const;
  ScriptCall add_log_call(const std::string& job_id, const std::string& token,
                          const std::string& row, std::optional<std::int64_t> keep_logs) const;
  ScriptCall update_data_call(const std::string& job_id, const std::string& token,
                              const std::string& json) const;
  ScriptCall remove_unprocessed_children_call(const std::string& job_id,
                                              const std::string& token) const;

 private:
  ScriptRunner& runner_;
  QueueKeys keys_;
  // The fixed leading keys of the per-job scripts, encoded once.
  EncodedKeys claim_keys_;   // moveToActive: all 11
  EncodedKeys finish_keys_;  // moveToFinished: the first 10
};

}  // namespace bullmq
