// bullmq-worker processor SDK: what a running processor may do with its job
// and its queue, as Node's Job and Worker methods do.
//
// The worker owns one JobContext per running job, valid until
// Processor::process returns. Thread-safety: its methods may be called from
// the processing thread that runs the job (and from threads that thread waits
// for); calls block until Redis answered. They throw:
//   - DependencyUnavailable("redis") when Redis cannot be reached or refuses
//     writes: let it through, the job is deferred without spending an attempt;
//   - UnrecoverableError when called from a processor that runs inline
//     (Processor::runs_inline) — that would deadlock the worker;
//   - std::runtime_error when the job is no longer this run's (its lock was
//     lost) or Redis rejects the call; a failed attempt unless caught.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bullmq_worker {

// A job to add from a processor (Node's Queue.add / FlowProducer child).
struct NewJob {
  std::string name;
  std::string data = "{}";  // JSON text
  // JSON object of Node's JobsOptions: jobId, delay, priority, attempts,
  // backoff, removeOnComplete, deduplication, … (`parent` is set by as_child).
  std::string opts = "{}";
  std::string queue;      // empty: the running job's queue (same key prefix)
  bool as_child = false;  // a child of the running job, which becomes its flow parent
};

// A flow parent's children by state, as Node's job.getDependencies() reads
// them. Keys are full job keys ("bull:q:id").
struct Dependencies {
  std::map<std::string, std::string> processed;  // completed child -> return value JSON
  std::vector<std::string> unprocessed;          // children not finished yet
  // Children with failParentOnFailure that failed (the parent's
  // `:unsuccessful` set; the parent fails with them), oldest first.
  std::vector<std::string> failed;
  // Children with ignoreDependencyOnFailure or continueParentOnFailure that
  // failed -> their failed reason (the parent's `:failed` hash).
  std::map<std::string, std::string> ignored;
};

// The sizes of the four Dependencies lists (Node's job.getDependenciesCount()).
struct DependencyCounts {
  std::int64_t processed = 0;
  std::int64_t unprocessed = 0;
  std::int64_t failed = 0;
  std::int64_t ignored = 0;
};

class JobContext {
 public:
  virtual ~JobContext() = default;

  // --- the job itself ---
  // Sets the job's progress to any JSON value (number, object, array, …).
  virtual void update_progress(std::string_view json) = 0;
  // Appends one row to the job's log (the job's keepLogs applies).
  virtual void log(std::string_view line) = 0;
  // Replaces the job's data (JSON text).
  virtual void update_data(std::string_view json) = 0;

  // --- ending the run without a result (each throws after moving the job) ---
  // Back to delayed for `delay`, without spending an attempt; throws DelayedError.
  [[noreturn]] virtual void move_to_delayed(std::chrono::milliseconds delay) = 0;
  // Back to wait, without spending an attempt; throws WaitingError.
  [[noreturn]] virtual void move_to_wait() = 0;
  // Parks a flow parent until its pending children finish. Returns normally
  // when none is pending (go on); throws WaitingChildrenError when parked.
  virtual void move_to_waiting_children() = 0;
  // Rate-limits the queue for `duration` (Node's worker.rateLimit: the queue's
  // limiter key). Workers with a limiter (--limiter-max) claim nothing until
  // it expires. End the run with `throw RateLimitError()` to put this job
  // back to wait without spending an attempt; this worker then claims nothing
  // until the limit expires (at most its maximumRateLimitDelay).
  virtual void rate_limit(std::chrono::milliseconds duration) = 0;

  // --- other jobs ---
  // Adds a job and returns its id (Node's Queue.add: its options are checked
  // as Node checks them; bad ones throw std::invalid_argument). A child
  // (as_child) makes the running job its flow parent: call
  // move_to_waiting_children() to wait for it. Another queue must have the
  // same key prefix; in Redis Cluster, the same hash slot as the running job's.
  virtual std::string add_job(const NewJob& job) = 0;
  // The running job's children by state (Node's job.getDependencies()).
  virtual Dependencies dependencies() = 0;
  virtual DependencyCounts dependency_counts() = 0;
  // Children's return values: full child key -> return value JSON.
  virtual std::map<std::string, std::string> children_values() = 0;
  // Children that failed with ignoreDependencyOnFailure or
  // continueParentOnFailure: key -> failed reason (Dependencies::ignored).
  virtual std::map<std::string, std::string> ignored_children_failures() = 0;
  // Removes the children that have not been processed yet (and theirs), as
  // Node's job.removeUnprocessedChildren(); a continueParentOnFailure parent
  // calls it before it finishes.
  virtual void remove_unprocessed_children() = 0;

  // --- cancellation ---
  // True once the job should stop: its lock was lost or the worker's shutdown
  // deadline passed. Check it between steps.
  virtual bool cancelled() const = 0;
  // Sleeps up to `duration`; returns false early when the job is cancelled.
  virtual bool sleep_for(std::chrono::milliseconds duration) = 0;
};

}  // namespace bullmq_worker
