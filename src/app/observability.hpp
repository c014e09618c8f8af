// What the HTTP endpoint answers: /livez (the event loop answers, and no
// worker sits idle while its queue has jobs waiting), /readyz (Redis and, for
// the files processors, PostgreSQL reachable; not shutting down) and
// /metrics (Prometheus text exposition of the workers' counters and the
// queues' depth). Runs on the I/O thread; blocking checks go to the pool.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "app/http_server.hpp"
#include "bullmq/asio.hpp"
#include "bullmq/worker.hpp"

namespace app {

class Observability {
 public:
  // Blocking check of another dependency (e.g. PostgreSQL); returns an empty
  // string when healthy, else what is wrong. Run on the processing pool.
  using DependencyCheck = std::function<std::string()>;

  Observability(std::vector<bullmq::Worker*> workers, bullmq::asio::thread_pool& pool,
                std::int64_t idle_timeout_ms, DependencyCheck database_check);

  bullmq::awaitable<HttpResponse> handle(std::string path);

 private:
  bullmq::awaitable<HttpResponse> livez();
  bullmq::awaitable<HttpResponse> readyz();
  bullmq::awaitable<HttpResponse> metrics();
  bullmq::awaitable<std::string> check_database();

  std::vector<bullmq::Worker*> workers_;
  bullmq::asio::thread_pool& pool_;
  std::int64_t idle_timeout_ms_;
  DependencyCheck database_check_;
};

}  // namespace app
