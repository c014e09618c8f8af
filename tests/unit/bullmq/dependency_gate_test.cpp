#include "bullmq/dependency_gate.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

namespace {

using namespace std::chrono_literals;
using bullmq::DependencyGate;

constexpr DependencyGate::Timing kFast{/*first_check_ms=*/5, /*max_check_interval_ms=*/20,
                                       /*unchecked_reopen_ms=*/30};

// Runs the io_context until `done` or a bound (the test fails on the bound).
template <typename Pred>
bool run_until(bullmq::asio::io_context& io, Pred done, std::chrono::milliseconds bound = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_for(5ms);
  }
  return true;
}

}  // namespace

TEST_CASE("the gate closes on a report and opens when the dependency's check passes") {
  bullmq::asio::io_context io;
  bullmq::BlockingPool pool(1);
  std::atomic<bool> up{false};
  std::atomic<int> checks{0};
  DependencyGate gate(io, pool,
                      {{"db",
                        [&]() -> std::string {
                          ++checks;
                          return up ? "" : "connection refused";
                        }}},
                      kFast);
  CHECK(gate.open());
  CHECK(gate.states().at("db"));

  gate.report_down("db", "the job could not connect");
  CHECK_FALSE(gate.open());
  CHECK(gate.down().at("db").reason == "the job could not connect");
  CHECK_FALSE(gate.states().at("db"));
  CHECK(gate.outages() == 1);

  bool resumed = false;
  bullmq::asio::co_spawn(
      io,
      [&]() -> bullmq::awaitable<void> {
        co_await gate.wait_open();
        resumed = gate.open();
      },
      bullmq::asio::detached);

  // The check runs again and again while it fails; its answer becomes the reason.
  REQUIRE(run_until(io, [&] { return checks >= 3; }));
  CHECK_FALSE(gate.open());
  CHECK(gate.down().at("db").reason == "connection refused");
  CHECK_FALSE(resumed);
  // A second report while down changes the reason, not the count.
  gate.report_down("db", "again");
  CHECK(gate.outages() == 1);

  up = true;
  REQUIRE(run_until(io, [&] { return resumed; }));
  CHECK(gate.open());
  CHECK(gate.states().at("db"));
  gate.stop();
  pool.join();
}

TEST_CASE("a dependency without a check is taken as up after the back-off") {
  bullmq::asio::io_context io;
  bullmq::BlockingPool pool(1);
  DependencyGate gate(io, pool, {}, kFast);
  const auto start = std::chrono::steady_clock::now();
  gate.report_down("api", "HTTP 503");
  CHECK_FALSE(gate.open());
  REQUIRE(run_until(io, [&] { return gate.open(); }));
  CHECK(std::chrono::steady_clock::now() - start >= 30ms);
  CHECK(gate.states().at("api"));  // remembered as a known dependency
  gate.stop();
  pool.join();
}

TEST_CASE("a check that throws counts as down, with its message") {
  bullmq::asio::io_context io;
  bullmq::BlockingPool pool(1);
  std::atomic<int> calls{0};
  DependencyGate gate(io, pool,
                      {{"storage",
                        [&]() -> std::string {
                          if (++calls < 3) throw std::runtime_error("stale file handle");
                          return "";
                        }}},
                      kFast);
  gate.report_down("storage", "cannot open");
  REQUIRE(run_until(io, [&] { return calls >= 2; }));
  CHECK(gate.down().at("storage").reason == "stale file handle");
  REQUIRE(run_until(io, [&] { return gate.open(); }));
  gate.stop();
  pool.join();
}

TEST_CASE("the gate stays closed until every dependency down answers") {
  bullmq::asio::io_context io;
  bullmq::BlockingPool pool(1);
  std::atomic<bool> a_up{false};
  std::atomic<bool> b_up{false};
  DependencyGate gate(io, pool,
                      {{"a", [&]() -> std::string { return a_up ? "" : "a down"; }},
                       {"b", [&]() -> std::string { return b_up ? "" : "b down"; }}},
                      kFast);
  gate.report_down("a", "x");
  gate.report_down("b", "y");
  CHECK(gate.outages() == 2);
  a_up = true;
  REQUIRE(run_until(io, [&] { return gate.down().size() == 1; }));
  CHECK_FALSE(gate.open());
  CHECK(gate.down().count("b") == 1);
  b_up = true;
  REQUIRE(run_until(io, [&] { return gate.open(); }));
  gate.stop();
  pool.join();
}

TEST_CASE("wake_waiters and stop release a wait while the gate stays closed") {
  bullmq::asio::io_context io;
  bullmq::BlockingPool pool(1);
  DependencyGate gate(io, pool, {{"db", [] { return std::string("down"); }}}, kFast);
  gate.report_down("db", "down");
  int woken = 0;
  auto waiter = [&]() -> bullmq::awaitable<void> {
    co_await gate.wait_open();
    ++woken;
  };
  bullmq::asio::co_spawn(io, waiter(), bullmq::asio::detached);
  io.restart();
  io.run_for(20ms);
  CHECK(woken == 0);
  gate.wake_waiters();
  REQUIRE(run_until(io, [&] { return woken == 1; }));
  CHECK_FALSE(gate.open());

  bullmq::asio::co_spawn(io, waiter(), bullmq::asio::detached);
  io.restart();
  io.run_for(20ms);
  gate.stop();
  REQUIRE(run_until(io, [&] { return woken == 2; }));
  // After stop(), a wait returns at once.
  bullmq::asio::co_spawn(io, waiter(), bullmq::asio::detached);
  REQUIRE(run_until(io, [&] { return woken == 3; }));
  pool.join();
}

TEST_CASE("start() keeps the gate closed until the first checks answered") {
  bullmq::asio::io_context io;
  bullmq::BlockingPool pool(1);
  std::atomic<bool> db_up{false};
  DependencyGate gate(io, pool,
                      {{"db", [&]() -> std::string { return db_up ? "" : "refused"; }},
                       {"disk", [] { return std::string(); }}},
                      kFast);
  gate.start();
  CHECK_FALSE(gate.open());  // nothing answered yet: no claim may start
  CHECK(gate.down().empty());
  REQUIRE(run_until(io, [&] { return gate.down().count("db") == 1; }));
  CHECK(gate.down().at("db").reason == "refused");
  CHECK(gate.outages() == 1);
  CHECK_FALSE(gate.open());
  db_up = true;
  REQUIRE(run_until(io, [&] { return gate.open(); }));
  gate.stop();
  pool.join();
}

TEST_CASE("start() with healthy dependencies opens the gate and wakes waiters") {
  bullmq::asio::io_context io;
  bullmq::BlockingPool pool(1);
  DependencyGate gate(io, pool, {{"db", [] { return std::string(); }}}, kFast);
  gate.start();
  bool resumed = false;
  bullmq::asio::co_spawn(
      io,
      [&]() -> bullmq::awaitable<void> {
        co_await gate.wait_open();
        resumed = gate.open();
      },
      bullmq::asio::detached);
  REQUIRE(run_until(io, [&] { return resumed; }));
  CHECK(gate.outages() == 0);
  gate.stop();
  pool.join();
}
