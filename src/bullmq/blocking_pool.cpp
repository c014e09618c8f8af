#include "bullmq/blocking_pool.hpp"

#include <algorithm>

namespace bullmq {

BlockingPool::BlockingPool(std::size_t max_threads)
    : max_threads_(std::max<std::size_t>(max_threads, 1)) {}

BlockingPool::~BlockingPool() {
  stop_threads();
}

void BlockingPool::join() {
  {
    std::unique_lock<std::mutex> lock(threads_mutex_);
    idle_.wait(lock, [this] { return busy_.load() == 0; });
  }
  stop_threads();
}

void BlockingPool::stop_threads() {
  pool_.stop();
  std::vector<std::thread> threads;
  {
    // Joined outside the lock: a thread finishing its work takes it.
    std::lock_guard<std::mutex> lock(threads_mutex_);
    threads.swap(threads_);
  }
  for (auto& thread : threads) thread.join();
}

void BlockingPool::note_posted() {
  const std::size_t busy = ++busy_;
  std::lock_guard<std::mutex> lock(threads_mutex_);
  if (busy > threads_.size() && threads_.size() < max_threads_) {
    threads_.emplace_back([this] { pool_.attach(); });
  }
}

void BlockingPool::note_done() {
  if (--busy_ != 0) return;
  std::lock_guard<std::mutex> lock(threads_mutex_);  // no lost wake-up in join()
  idle_.notify_all();
}

std::size_t BlockingPool::threads() const {
  std::lock_guard<std::mutex> lock(threads_mutex_);
  return threads_.size();
}

}  // namespace bullmq
