// Brings back the jobs of workers that stopped renewing their locks: every
// stalledInterval it runs BullMQ's moveStalledJobsToWait, which moves them
// back to wait (or fails them after maxStalledCount), as Node's Worker does.
// After a failed check it tries again in 5 s. Runs on the I/O thread; owned
// by the Worker.
//
// Its seams, Redis (StalledStore: QueueScripts in the worker) and the clock,
// let tests run check_once() without Redis (tests/unit/bullmq/stalled_checker_test.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bullmq/asio.hpp"

namespace bullmq {

// What the stalled check needs from Redis.
class StalledStore {
 public:
  virtual ~StalledStore() = default;
  // moveStalledJobsToWait: returns the ids of the jobs it recovered.
  virtual awaitable<std::vector<std::string>> move_stalled_jobs_to_wait(
      int max_stalled_count, std::int64_t stalled_interval_ms, std::int64_t now_ms) = 0;
};

class StalledChecker {
 public:
  using Clock = std::int64_t (*)();  // ms since the epoch
  // Called on the I/O thread after each check: the check's exception, or null.
  using ResultHook = std::function<void(const std::exception* error)>;

  static constexpr std::int64_t kRetryAfterFailureMs = 5000;

  StalledChecker(asio::any_io_executor executor, StalledStore& store, std::string queue,
                 std::int64_t interval_ms, int max_stalled_count, ResultHook on_result,
                 Clock clock = nullptr);

  void start();
  void stop();

  // One check: logs and counts each recovered job; returns how long to wait
  // before the next check (the interval, or kRetryAfterFailureMs after a
  // failure, which is logged). Never throws.
  awaitable<std::int64_t> check_once();

  std::uint64_t recovered() const { return recovered_; }

 private:
  awaitable<void> run();

  asio::any_io_executor executor_;
  StalledStore& store_;
  std::string queue_;
  std::int64_t interval_ms_;
  int max_stalled_count_;
  ResultHook on_result_;
  Clock clock_;
  asio::steady_timer timer_;
  bool running_ = false;
  std::uint64_t recovered_ = 0;
};

}  // namespace bullmq
