#include "bullmq/worker_options.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace bullmq;

namespace {
WorkerOptions valid() {
  WorkerOptions o;
  o.queue = std::string("q");  // (assigning the literal trips GCC 12's -Wrestrict false positive)
  return o;
}
}  // namespace

TEST_CASE("Node's defaults are valid; the lock renew time defaults to half the duration") {
  const WorkerOptions o = valid();
  CHECK(o.validate().empty());
  CHECK(o.effective_lock_renew_time_ms() == 15000);
}

TEST_CASE("finishing connections: one below concurrency 8, then one per 4 slots up to 3, or as set") {
  WorkerOptions o = valid();
  CHECK(o.effective_finish_connections() == 1);
  o.concurrency = WorkerOptions::kSecondFinishConnectionAt - 1;
  CHECK(o.effective_finish_connections() == 1);
  o.concurrency = WorkerOptions::kSecondFinishConnectionAt;
  CHECK(o.effective_finish_connections() == 2);
  o.concurrency = 9;
  CHECK(o.effective_finish_connections() == 3);
  o.concurrency = 10;
  CHECK(o.effective_finish_connections() == 3);
  o.concurrency = 100;
  CHECK(o.effective_finish_connections() == 3);
  o.finish_connections = 1;
  CHECK(o.effective_finish_connections() == 1);
  o.concurrency = 1;
  o.finish_connections = 3;
  CHECK(o.effective_finish_connections() == 3);
  CHECK(o.validate().empty());
}

TEST_CASE("finishing connections out of range are refused with the range") {
  WorkerOptions o = valid();
  o.finish_connections = -1;
  CHECK(o.validate() == "finish connections must be between 0 (automatic) and 8");
  o.finish_connections = WorkerOptions::kMaxFinishConnections + 1;
  CHECK(o.validate() == "finish connections must be between 0 (automatic) and 8");
  o.finish_connections = WorkerOptions::kMaxFinishConnections;
  CHECK(o.validate().empty());
}

TEST_CASE("a renew time not shorter than the lock duration is refused") {
  WorkerOptions o = valid();
  o.lock_duration_ms = 1000;
  o.lock_renew_time_ms = 1000;
  CHECK(o.validate().find("must be shorter than the lock duration") != std::string::npos);
}
