// Keeps the locks of a worker's active jobs alive: every lockRenewTime/2 it
// renews, in one extendLocks call, each tracked job whose last renewal is
// older than that, and reports the ids whose lock is gone. Runs on the I/O
// thread, so no processing can starve it. Owned by the Worker.
//
// Its two seams, Redis (LockStore: QueueScripts in the worker) and the clock,
// let tests drive renew_due() without Redis (tests/unit/bullmq/lock_manager_test.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bullmq/asio.hpp"
#include "bullmq/lock_store.hpp"

namespace bullmq {

class LockManager {
 public:
  using LostHandler = std::function<void(const std::string& job_id)>;
  using Clock = std::int64_t (*)();  // ms since the epoch

  // `queue` names the queue in log lines; `clock` defaults to now_ms().
  LockManager(asio::any_io_executor executor, LockStore& store, std::string queue,
              std::int64_t lock_duration_ms, std::int64_t renew_time_ms, LostHandler on_lost,
              Clock clock = nullptr);

  void start();
  void stop();

  // `since_ms`: when the lock was last set (the claim's timestamp).
  void track(const std::string& job_id, const std::string& token, std::int64_t since_ms);
  void untrack(const std::string& job_id);
  std::size_t size() const { return tracked_.size(); }
  std::uint64_t renewals() const { return renewals_; }
  std::uint64_t lost() const { return lost_; }

  // One tick: renews every lock last renewed more than renew_time/2 ago.
  // A job untracked, or tracked again under another token (claimed again by
  // a chained fetch), while the call was in flight is left alone; a lock
  // Redis reports gone is untracked and reported to the LostHandler.
  awaitable<void> renew_due();

 private:
  struct Entry {
    std::string token;
    std::int64_t renewed_at_ms;
  };
  awaitable<void> run();

  asio::any_io_executor executor_;
  LockStore& store_;
  std::string queue_;
  Clock clock_;
  std::int64_t lock_duration_ms_;
  std::int64_t renew_time_ms_;
  LostHandler on_lost_;
  std::unordered_map<std::string, Entry> tracked_;
  // Nodes of untracked jobs, kept (up to a bound) so that tracking the next
  // job reuses the node and its strings' buffers instead of allocating.
  static constexpr std::size_t kMaxSpareNodes = 1024;
  std::vector<std::unordered_map<std::string, Entry>::node_type> spare_;
  asio::steady_timer timer_;
  bool running_ = false;
  std::uint64_t renewals_ = 0;
  std::uint64_t lost_ = 0;
};

}  // namespace bullmq
