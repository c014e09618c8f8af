// The lock manager's decisions with a fake LockStore and a fake clock: which
// locks a tick renews, what a lost lock does, and the "token changed while
// the call was in flight" rule. No Redis.
#include "bullmq/lock_manager.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <set>

using namespace bullmq;

namespace {

std::int64_t g_now = 0;
std::int64_t fake_clock() {
  return g_now;
}

struct FakeStore : LockStore {
  struct Call {
    std::vector<std::string> ids;
    std::vector<std::string> tokens;
    std::int64_t duration_ms;
  };
  std::vector<Call> calls;
  std::set<std::string> gone;             // ids whose lock Redis reports lost
  std::function<void()> while_in_flight;  // runs as if during the round trip

  awaitable<std::vector<std::string>> extend_locks(std::vector<std::string> ids,
                                                   std::vector<std::string> tokens,
                                                   std::int64_t duration_ms) override {
    calls.push_back({ids, tokens, duration_ms});
    if (while_in_flight) while_in_flight();
    std::vector<std::string> failed;
    for (const auto& id : ids)
      if (gone.count(id)) failed.push_back(id);
    co_return failed;
  }
};

struct Fixture {
  asio::io_context io;
  FakeStore store;
  std::vector<std::string> lost;
  LockManager locks{io.get_executor(),
                    store,
                    "q",
                    30000,
                    10000,
                    [this](const std::string& id) { lost.push_back(id); },
                    &fake_clock};

  void tick() {
    asio::co_spawn(io, locks.renew_due(), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    io.restart();
    io.run();
  }
};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("a tick renews, in one call, the locks last renewed more than renew_time/2 ago") {
  Fixture f;
  g_now = 100000;
  f.locks.track("1", "t1", 100000 - 6000);  // due (renew time 10 s: every 5 s)
  f.locks.track("2", "t2", 100000 - 1000);  // renewed a second ago
  f.locks.track("3", "t3", 100000 - 9000);  // due
  f.tick();
  REQUIRE(f.store.calls.size() == 1);
  CHECK(sorted(f.store.calls[0].ids) == std::vector<std::string>{"1", "3"});
  CHECK(f.store.calls[0].duration_ms == 30000);
  for (std::size_t i = 0; i < f.store.calls[0].ids.size(); ++i)
    CHECK(f.store.calls[0].tokens[i] == "t" + f.store.calls[0].ids[i]);
  CHECK(f.locks.renewals() == 2);

  // 1 and 3 were renewed now: 4.5 s later only 2 is due.
  g_now += 4500;
  f.tick();
  REQUIRE(f.store.calls.size() == 2);
  CHECK(f.store.calls[1].ids == std::vector<std::string>{"2"});
}

TEST_CASE("nothing due: no call at all") {
  Fixture f;
  g_now = 50000;
  f.locks.track("1", "t", 50000);
  f.tick();
  CHECK(f.store.calls.empty());
}

TEST_CASE("a lock Redis reports gone is reported once and no longer renewed") {
  Fixture f;
  g_now = 100000;
  f.locks.track("1", "t1", 0);
  f.locks.track("2", "t2", 0);
  f.store.gone = {"2"};
  f.tick();
  CHECK(f.lost == std::vector<std::string>{"2"});
  CHECK(f.locks.lost() == 1);
  CHECK(f.locks.size() == 1);
  g_now += 20000;
  f.tick();
  CHECK(f.store.calls.back().ids == std::vector<std::string>{"1"});
  CHECK(f.lost.size() == 1);
}

TEST_CASE("a job finished or claimed again while the call was in flight is left alone") {
  Fixture f;
  g_now = 100000;
  f.locks.track("done", "t1", 0);
  f.locks.track("again", "old", 0);
  f.store.gone = {"done", "again"};
  f.store.while_in_flight = [&] {
    f.locks.untrack("done");               // finished meanwhile
    f.locks.track("again", "new", g_now);  // claimed again by a chained fetch
  };
  f.tick();
  CHECK(f.lost.empty());       // neither lost report concerns the current run
  CHECK(f.locks.size() == 1);  // "again" stays tracked under its new token
  CHECK(f.locks.renewals() == 0);
  f.store.while_in_flight = nullptr;
  f.store.gone.clear();
  g_now += 6000;
  f.tick();
  REQUIRE(f.store.calls.size() == 2);
  CHECK(f.store.calls[1].tokens == std::vector<std::string>{"new"});
}
