// The JobContext a processor gets (Worker::Context), and the state of one
// running job (Worker::RunningJob) it shares with the Worker. Private to the
// Worker: worker.cpp claims, runs and finishes jobs; worker_context.cpp
// serves what a running processor asks of its job (progress, logs, data,
// moves, children, rate limits), forwarding each call to the I/O thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "bullmq/job_tracer.hpp"
#include "bullmq/new_job.hpp"
#include "bullmq/script_codes.hpp"
#include "bullmq/worker.hpp"

namespace bullmq {

// One claimed job while this worker holds it. Shared by the I/O thread and
// the processing thread running it.
struct Worker::RunningJob : std::enable_shared_from_this<Worker::RunningJob> {
  Job job;
  std::string token;
  std::int64_t started_ms = 0;
  JobNameStats* name_stats = nullptr;  // stats_.by_name entry (map nodes are stable); I/O thread
  std::atomic<bool> cancelled{false};
  bool processing = false;  // running on the pool (run_on_pool); I/O thread only
  bool abandoned = false;   // handed back; its outcome is dropped; I/O thread only
  bool lock_lost = false;   // the lock manager found its lock gone; I/O thread only
  bool finish_resent =
      false;  // its outcome was sent again after a connection loss; I/O thread only
  std::size_t finish_lane = 0;   // its slot's connection for finishing scripts (Worker)
  Worker::Slot* slot = nullptr;  // its run_slot's, while that runs it; I/O thread only
  // Its finishing script is in flight on a finish lane, not on the
  // connection that renews locks; I/O thread only.
  bool finishing_elsewhere = false;
  // A lock renewal found its lock gone while finishing_elsewhere; the
  // finish's answer tells whether it was lost; I/O thread only.
  bool lock_reported_lost = false;
  std::mutex mutex;
  std::condition_variable wake;
  std::unique_ptr<JobSpan> span;  // set at claim when a tracer is configured; then read-only

  std::string_view trace_id() const { return span ? span->trace_id() : std::string_view(); }
  std::string_view span_id() const { return span ? span->span_id() : std::string_view(); }

  void cancel() {
    {
      std::lock_guard lock(mutex);
      cancelled = true;
    }
    wake.notify_all();
  }
};

// Forwards each call to the I/O thread and waits for Redis's answer there;
// used from the processing thread that runs the job (never the I/O thread).
class Worker::Context final : public JobContext {
 public:
  Context(Worker& worker, std::shared_ptr<RunningJob> running)
      : worker_(worker), running_(std::move(running)) {}

  void update_progress(std::string_view json) override;

  void log(std::string_view line) override;

  void update_data(std::string_view json) override;

  [[noreturn]] void move_to_delayed(std::chrono::milliseconds delay) override;

  void move_to_waiting_children() override;

  std::map<std::string, std::string> children_values() override;

  std::map<std::string, std::string> ignored_children_failures() override;

  // Node's job.moveToWait(token): back to wait, no attempt spent.
  [[noreturn]] void move_to_wait() override;

  // Node's worker.rateLimit(ms).
  void rate_limit(std::chrono::milliseconds duration) override;

  // Node's Queue.add (with `parent` for a child of the running job).
  std::string add_job(const bullmq_worker::NewJob& spec) override;

  bullmq_worker::Dependencies dependencies() override;

  bullmq_worker::DependencyCounts dependency_counts() override;

  void remove_unprocessed_children() override;

  bool cancelled() const override { return running_->cancelled.load(); }

  bool sleep_for(std::chrono::milliseconds duration) override;

  // The job being processed.
  const Job& job() const { return running_->job; }

 private:
  // Runs a coroutine on the I/O thread and blocks this processing thread
  // until it is done; its exception, if any, is rethrown here. Redis being
  // unreachable is not the job's fault: it comes out as DependencyUnavailable.
  template <typename F>
  auto on_io(F f);

  // Runs the add script of `plan`; returns the new job's id.
  std::string send_new_job(const QueueKeys& target, const NewJobPlan& plan, bool child);

  // BullMQ's updateProgress, addLog, updateData, removeUnprocessedChildren
  // and add scripts do not look at the job's lock. A worker frozen (or
  // stalled) past its lock duration that wakes up must not write into a job
  // that another worker took over, or that was finished meanwhile: the
  // worker sends their *IfLocked forms, which check the lock against this
  // run's token in the same script as the write (a GET first would leave a
  // window between the check and the write). A lock already known lost is
  // refused here without a round trip.
  void refuse_if_lock_lost(const char* command) const;

  // The reply of an *IfLocked write: -2 / -6 is the lock check refusing.
  void check_write(ScriptCode code, const char* command) const;

  ScriptRefused not_owned(const char* command, ScriptCode code = ScriptCode::kLockMissing) const;

  std::map<std::string, std::string> hash(std::string key);

  Worker& worker_;
  std::shared_ptr<RunningJob> running_;
};

}  // namespace bullmq
