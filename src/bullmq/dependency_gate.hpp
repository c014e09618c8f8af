// Which of the processors' dependencies are down, for every Worker of a
// process. A processor that throws DependencyUnavailable closes the gate for
// that dependency; a worker claims no job while the gate is closed (its jobs
// would only fail, and an outage must not spend their attempts).
//
// While a dependency is down, its registered check (ProcessorRegistry::
// add_dependency) runs on the processing pool, first after 250 ms and then
// backing off to every 5 s; when it passes, the dependency is up again. A
// name reported without a check is taken as up after 5 s (the next job that
// needs it is the check). The gate is open when no dependency is down and
// the first round of checks (start()) has answered, so a worker started
// during an outage claims nothing.
//
// Everything runs on the I/O thread except the checks. Owned by the app; the
// io_context and the pool must outlive it, and it must outlive the workers.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "bullmq/asio.hpp"
#include "bullmq/blocking_pool.hpp"
#include "bullmq/processor.hpp"

namespace bullmq {

class DependencyGate {
 public:
  struct Outage {
    std::string reason;         // the latest error: the report's, then the check's
    std::int64_t since_ms = 0;  // wall clock, when it was first reported
  };
  struct Timing {
    std::int64_t first_check_ms = 250;
    std::int64_t max_check_interval_ms = 5000;
    std::int64_t unchecked_reopen_ms = 5000;
  };

  DependencyGate(asio::io_context& io, BlockingPool& pool,
                 std::map<std::string, DependencyCheck> checks, Timing timing);
  DependencyGate(asio::io_context& io, BlockingPool& pool,
                 std::map<std::string, DependencyCheck> checks)
      : DependencyGate(io, pool, std::move(checks), Timing{}) {}
  DependencyGate(const DependencyGate&) = delete;
  DependencyGate& operator=(const DependencyGate&) = delete;

  // Runs every registered check once; the gate stays closed until they have
  // answered, and a failing one is reported down. Call on the I/O thread
  // before the workers start.
  void start();

  // A processor found `name` unavailable. Closes the gate and starts checking
  // the dependency, unless it is already down (then only the reason changes).
  void report_down(const std::string& name, const std::string& reason);

  bool open() const { return down_.empty() && starting_ == 0; }
  // Dependencies down now, by name.
  const std::map<std::string, Outage>& down() const { return down_; }
  // Every dependency with a check, and every one ever reported: name -> up.
  std::map<std::string, bool> states() const;
  std::uint64_t outages() const { return outages_; }
  const std::map<std::string, DependencyCheck>& checks() const { return checks_; }

  // Returns when the gate is open, or when wake_waiters() or stop() is called
  // (callers check open() again and their own reasons to stop waiting).
  awaitable<void> wait_open();
  // Wakes every wait_open() now (a worker that begins to shut down).
  void wake_waiters() { opened_.cancel(); }
  // No more checks; wakes every waiter.
  void stop();

 private:
  awaitable<void> watch(std::string name);
  awaitable<void> first_check(std::string name);
  awaitable<std::string> run_check(const DependencyCheck& check);
  void mark_up(const std::string& name);

  asio::io_context& io_;
  BlockingPool& pool_;
  std::map<std::string, DependencyCheck> checks_;
  Timing timing_;
  std::map<std::string, Outage> down_;
  std::map<std::string, bool> reported_;                    // names ever reported
  std::map<std::string, asio::steady_timer> check_timers_;  // one per dependency down
  std::uint64_t outages_ = 0;
  int starting_ = 0;  // first checks still running
  bool stopped_ = false;
  asio::steady_timer opened_;
};

}  // namespace bullmq
