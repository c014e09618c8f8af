// What the HTTP endpoint answers: /livez (the event loop answers, and no
// worker sits idle while its queue has jobs waiting, unless a dependency is
// down), /readyz (Redis and every dependency the processors registered (for
// the files processors, PostgreSQL and the storage root) reachable, no
// dependency reported down, not shutting down) and
// /metrics (Prometheus text exposition of the workers' counters and the
// queues' depth). Runs on the I/O thread; blocking checks go to the pool.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "app/http_server.hpp"
#include "app/tracing_module_api.hpp"
#include "bullmq/asio.hpp"
#include "bullmq/dependency_gate.hpp"
#include "bullmq/redis_topology.hpp"
#include "bullmq/worker.hpp"

namespace app {

class Observability {
 public:
  // The gate's registered checks run on `pool` for each /readyz; the
  // topology says why no Redis server can be found (Sentinel, Cluster).
  Observability(std::vector<bullmq::Worker*> workers, bullmq::BlockingPool& pool,
                std::int64_t idle_timeout_ms, const bullmq::DependencyGate& gate,
                const bullmq::RedisTopology& topology);

  bullmq::awaitable<HttpResponse> handle(std::string path);
  // With tracing on: its span counters go into /metrics. Must outlive this.
  void set_tracing(const TracingService* tracing) { tracing_ = tracing; }

 private:
  bullmq::awaitable<HttpResponse> livez();
  bullmq::awaitable<HttpResponse> readyz();
  bullmq::awaitable<HttpResponse> metrics();
  // Runs one blocking dependency check on the pool: empty when it answers.
  bullmq::awaitable<std::string> run_check(const bullmq::DependencyCheck& check);

  std::vector<bullmq::Worker*> workers_;
  bullmq::BlockingPool& pool_;
  std::int64_t idle_timeout_ms_;
  const bullmq::DependencyGate& gate_;
  const bullmq::RedisTopology& topology_;
  const TracingService* tracing_ = nullptr;
};

}  // namespace app
