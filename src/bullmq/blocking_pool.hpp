// Threads for the blocking work the I/O thread hands off: processors that do
// not run inline, and dependency checks. A thread starts only when posted
// work finds every started thread busy, up to `max_threads`, and then stays
// for the life of the pool; a worker whose processors all run inline starts
// none. Owned by whoever runs the I/O loop (run_worker); Worker,
// DependencyGate and Observability hold references and post through
// on_pool() (pool_handoff.hpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include "bullmq/asio.hpp"

namespace bullmq {

class BlockingPool {
 public:
  // `max_threads` of 0 is taken as 1.
  explicit BlockingPool(std::size_t max_threads);
  // Stops: work not yet started is dropped, work under way is waited for.
  ~BlockingPool();
  // Waits until all posted work has run, then ends the threads. Post nothing
  // meanwhile.
  void join();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Runs `work` (a callable, may be move-only) on a pool thread, starting
  // one first when every started thread is busy and the maximum allows.
  // `work` must not throw. Safe from any thread.
  template <typename Work>
  void post(Work&& work) {
    note_posted();
    asio::post(pool_, [this, w = std::forward<Work>(work)]() mutable {
      std::move(w)();
      note_done();
    });
  }

  std::size_t max_threads() const { return max_threads_; }
  // Threads started so far (never more than max_threads()).
  std::size_t threads() const;
  // Work posted and not yet done (running or waiting for a thread).
  std::size_t busy() const { return busy_.load(); }

 private:
  // Counts the work and starts a thread if it would otherwise wait.
  void note_posted();
  void note_done();
  // Stops the scheduler and joins the started threads.
  void stop_threads();

  const std::size_t max_threads_;
  asio::thread_pool pool_{0};         // its threads are the ones below, attached
  std::atomic<std::size_t> busy_{0};  // posted and not yet done
  mutable std::mutex threads_mutex_;  // guards threads_; idle_ waits on it
  std::condition_variable idle_;      // busy_ dropped to zero
  std::vector<std::thread> threads_;
};

}  // namespace bullmq
