#include "bullmq/blocking_pool.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace {

using namespace std::chrono_literals;
using bullmq::BlockingPool;

// Work that blocks until released; counts how many are blocked at once.
class Gate {
 public:
  void enter() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++inside_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    --inside_;
  }
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // True once `n` are inside; false after a bound.
  bool wait_inside(int n) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, 5s, [&] { return inside_ >= n; });
  }
  int inside() {
    std::lock_guard<std::mutex> lock(mutex_);
    return inside_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int inside_ = 0;
  bool open_ = false;
};

}  // namespace

TEST_CASE("a blocking pool starts no thread until work is posted") {
  BlockingPool pool(8);
  CHECK(pool.threads() == 0);
  CHECK(pool.max_threads() == 8);
}

TEST_CASE("a blocking pool starts a thread per concurrent piece of work, up to its maximum") {
  BlockingPool pool(3);
  Gate gate;
  std::atomic<int> done{0};
  for (int i = 0; i < 5; ++i) {
    pool.post([&] {
      gate.enter();
      ++done;
    });
  }
  REQUIRE(gate.wait_inside(3));
  CHECK(pool.threads() == 3);  // the other two wait for a thread
  CHECK(gate.inside() == 3);
  gate.open();
  pool.join();
  CHECK(done == 5);
}

TEST_CASE("a blocking pool reuses an idle thread instead of starting another") {
  BlockingPool pool(4);
  for (int i = 0; i < 20; ++i) {
    std::atomic<bool> ran{false};
    pool.post([&] { ran = true; });
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!ran && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    REQUIRE(ran);
    // Counted done too (the thread is idle again) before the next post.
    while (pool.busy() != 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    REQUIRE(pool.busy() == 0);
  }
  CHECK(pool.threads() == 1);
  pool.join();
}

TEST_CASE("a blocking pool of 0 threads is taken as 1 and still runs work") {
  BlockingPool pool(0);
  std::atomic<int> done{0};
  for (int i = 0; i < 3; ++i) pool.post([&] { ++done; });
  pool.join();
  CHECK(done == 3);
  CHECK(pool.threads() == 0);  // joined: the threads are gone
}

TEST_CASE("destroying a blocking pool waits for the work under way") {
  std::atomic<bool> finished{false};
  Gate gate;
  {
    BlockingPool pool(1);
    pool.post([&] {
      gate.enter();
      finished = true;
    });
    REQUIRE(gate.wait_inside(1));
    std::thread opener([&] { gate.open(); });
    opener.detach();
  }  // a thread left joinable here would end the test run (std::terminate)
  CHECK(finished);
}
