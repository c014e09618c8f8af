// The stalled check with a fake StalledStore and clock: what it sends, what a
// recovered job and a failed check do. No Redis.
#include "bullmq/stalled_checker.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace bullmq;

namespace {

std::int64_t fake_now() {
  return 1234;
}

struct FakeStore : StalledStore {
  int calls = 0;
  int max_stalled_count = -1;
  std::int64_t interval_ms = -1;
  std::int64_t now_ms = -1;
  std::vector<std::string> recover;
  bool fail = false;

  awaitable<std::vector<std::string>> move_stalled_jobs_to_wait(int max_stalled,
                                                                std::int64_t interval,
                                                                std::int64_t now) override {
    ++calls;
    max_stalled_count = max_stalled;
    interval_ms = interval;
    now_ms = now;
    if (fail) throw std::runtime_error("connection lost");
    co_return recover;
  }
};

std::int64_t run_once(asio::io_context& io, StalledChecker& checker) {
  std::int64_t wait = -1;
  asio::co_spawn(io, checker.check_once(), [&](std::exception_ptr e, std::int64_t w) {
    if (e) std::rethrow_exception(e);
    wait = w;
  });
  io.restart();
  io.run();
  return wait;
}

}  // namespace

TEST_CASE(
    "a check sends the worker's maxStalledCount, interval and time, then waits the interval") {
  asio::io_context io;
  FakeStore store;
  int successes = 0;
  StalledChecker checker(
      io.get_executor(), store, "q", 30000, 1,
      [&](const std::exception* e) { successes += e ? 0 : 1; }, &fake_now);
  store.recover = {"7", "9"};
  CHECK(run_once(io, checker) == 30000);
  CHECK(store.calls == 1);
  CHECK(store.max_stalled_count == 1);
  CHECK(store.interval_ms == 30000);
  CHECK(store.now_ms == 1234);
  CHECK(checker.recovered() == 2);
  CHECK(successes == 1);
}

TEST_CASE("a failed check is reported and tried again after 5 s, whatever the interval") {
  asio::io_context io;
  FakeStore store;
  std::string seen;
  StalledChecker checker(
      io.get_executor(), store, "q", 60000, 1,
      [&](const std::exception* e) { seen = e ? e->what() : "ok"; }, &fake_now);
  store.fail = true;
  CHECK(run_once(io, checker) == StalledChecker::kRetryAfterFailureMs);
  CHECK(seen == "connection lost");
  CHECK(checker.recovered() == 0);
  store.fail = false;
  CHECK(run_once(io, checker) == 60000);
  CHECK(seen == "ok");
}
