#include "bullmq/dependency_gate.hpp"

#include <algorithm>
#include <chrono>
#include <exception>

#include "bullmq/clock.hpp"
#include "bullmq/logger.hpp"
#include "bullmq/pool_handoff.hpp"
#include "bullmq/spawn.hpp"

namespace bullmq {

DependencyGate::DependencyGate(asio::io_context& io, BlockingPool& pool,
                               std::map<std::string, DependencyCheck> checks, Timing timing)
    : io_(io), pool_(pool), checks_(std::move(checks)), timing_(timing), opened_(io) {
  opened_.expires_at(asio::steady_timer::time_point::max());
}

std::map<std::string, bool> DependencyGate::states() const {
  std::map<std::string, bool> result;
  for (const auto& [name, check] : checks_) result[name] = true;
  for (const auto& [name, seen] : reported_) result[name] = true;
  for (const auto& [name, outage] : down_) result[name] = false;
  return result;
}

void DependencyGate::start() {
  for (const auto& [name, check] : checks_) {
    ++starting_;
    spawn(io_, first_check(name), "dependency first check");
  }
}

awaitable<void> DependencyGate::first_check(std::string name) {
  std::string problem = co_await run_check(checks_.at(name));
  --starting_;
  if (!problem.empty() && !stopped_) report_down(name, problem);
  if (open()) opened_.cancel();
}

void DependencyGate::report_down(const std::string& name, const std::string& reason) {
  reported_[name] = true;
  auto [it, first] = down_.try_emplace(name, Outage{reason, now_ms()});
  if (!first) {
    it->second.reason = reason;
    return;
  }
  ++outages_;
  logger().warn("dependency.down",
                "a dependency of the processors is unavailable; claiming no jobs until it answers",
                {{"dependency", name}, {"error", reason}});
  if (!stopped_) spawn(io_, watch(name), "dependency watch");
}

awaitable<void> DependencyGate::watch(std::string name) {
  auto [timer_it, inserted] = check_timers_.try_emplace(name, io_);
  (void)inserted;
  asio::steady_timer& timer = timer_it->second;
  const auto check_it = checks_.find(name);
  std::int64_t interval =
      check_it == checks_.end() ? timing_.unchecked_reopen_ms : timing_.first_check_ms;
  while (!stopped_ && down_.count(name)) {
    timer.expires_after(std::chrono::milliseconds(interval));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopped_) break;
    if (check_it == checks_.end()) {
      mark_up(name);
      break;
    }
    std::string problem = co_await run_check(check_it->second);
    if (stopped_) break;
    if (problem.empty()) {
      mark_up(name);
      break;
    }
    if (auto it = down_.find(name); it != down_.end()) it->second.reason = std::move(problem);
    interval = std::min(interval * 2, timing_.max_check_interval_ms);
  }
  check_timers_.erase(name);
}

awaitable<std::string> DependencyGate::run_check(const DependencyCheck& check) {
  // The check blocks (a round trip to the dependency): run it on the pool. A
  // copy: the gate may be gone before a hung check returns.
  auto work = [check]() -> std::string {
    try {
      return check();
    } catch (const std::exception& e) {
      std::string problem = e.what();
      return problem.empty() ? std::string("the check failed") : problem;
    }
  };
  co_return co_await on_pool(pool_, &work);
}

void DependencyGate::mark_up(const std::string& name) {
  auto it = down_.find(name);
  if (it == down_.end()) return;
  const long long down_ms = now_ms() - it->second.since_ms;
  down_.erase(it);
  logger().info("dependency.up", "a dependency of the processors answers again",
                {{"dependency", name}, {"down_ms", down_ms}});
  if (open()) opened_.cancel();
}

awaitable<void> DependencyGate::wait_open() {
  if (open() || stopped_) co_return;
  boost::system::error_code ec;
  co_await opened_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

void DependencyGate::stop() {
  stopped_ = true;
  for (auto& [name, timer] : check_timers_) timer.cancel();
  opened_.cancel();
}

}  // namespace bullmq
