// Settings of one Worker (one queue), with Node's defaults (protocol
// reference §14). Plain values, validated by validate().
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "bullmq/job_options.hpp"
#include "bullmq/script_args.hpp"

namespace bullmq {

struct WorkerOptions {
  std::string queue;
  std::string prefix = "bull";
  int concurrency = 1;
  std::int64_t lock_duration_ms = 30000;
  std::int64_t lock_renew_time_ms = 0;  // 0 = lock_duration_ms / 2
  std::int64_t stalled_interval_ms = 30000;
  int max_stalled_count = 1;
  double drain_delay_s = 5;
  std::int64_t maximum_rate_limit_delay_ms = 30000;
  std::optional<RateLimit> limiter;
  std::string name;  // listed by Queue.getWorkers(), stored as the job's processedBy
  std::optional<std::int64_t> shutdown_timeout_ms;  // unset: wait for running jobs
  std::optional<KeepJobs> remove_on_complete;       // worker-level defaults
  std::optional<KeepJobs> remove_on_fail;
  std::optional<std::int64_t> metrics_max_data_points;
  std::optional<int> max_started_attempts;
  int processor_threads = 0;  // most pool threads; 0 = one per concurrency slot
  // Command connections that carry the finishing scripts (each of which also
  // claims the slot's next job): with one, Redis idles while the worker
  // handles a batch of replies and the next batch is on its way; with more,
  // another connection's batch keeps Redis busy meanwhile. 0 = chosen from
  // the concurrency (effective_finish_connections()).
  int finish_connections = 0;
  bool skip_stalled_check = false;
  bool skip_lock_renewal = false;

  std::int64_t effective_lock_renew_time_ms() const {
    return lock_renew_time_ms > 0 ? lock_renew_time_ms : lock_duration_ms / 2;
  }
  int effective_finish_connections() const {
    if (finish_connections > 0) return finish_connections;
    if (concurrency < kSecondFinishConnectionAt) return 1;
    return std::min(kMostAutoFinishConnections,
                    (concurrency + kSlotsPerFinishConnection - 1) / kSlotsPerFinishConnection);
  }
  // From concurrency 8, one finishing connection per 4 slots, at most 3
  // (README, Benchmark: a second measured to pay at 10, 20, 50 and 100; a
  // third at 10, where two connections' batches fall into step at times;
  // three equal two at 100; below 8 one connection is kept, unmeasured).
  static constexpr int kSecondFinishConnectionAt = 8;
  static constexpr int kSlotsPerFinishConnection = 4;
  static constexpr int kMostAutoFinishConnections = 3;
  static constexpr int kMaxFinishConnections = 8;
  // Returns a message naming the first bad setting, or empty.
  std::string validate() const;
};

}  // namespace bullmq
