#include "app/observability.hpp"

#include <cstdio>

#include "bullmq/clock.hpp"
#include "bullmq/pool_handoff.hpp"
#include "bullmq/spawn.hpp"
#include "bullmq/worker_stats.hpp"

namespace app {
namespace {

namespace asio = bullmq::asio;

std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string number(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

// Prometheus text exposition, one metric family at a time.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, std::string_view labels, const std::string& value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

Observability::Observability(std::vector<bullmq::Worker*> workers, bullmq::BlockingPool& pool,
                             std::int64_t idle_timeout_ms, const bullmq::DependencyGate& gate,
                             const bullmq::RedisTopology& topology)
    : workers_(std::move(workers)),
      pool_(pool),
      idle_timeout_ms_(idle_timeout_ms),
      gate_(gate),
      topology_(topology) {}

asio::awaitable<HttpResponse> Observability::handle(std::string path) {
  if (path == "/livez") co_return co_await livez();
  if (path == "/readyz") co_return co_await readyz();
  if (path == "/metrics") co_return co_await metrics();
  co_return HttpResponse{404, "text/plain; charset=utf-8",
                         "not found: try /livez, /readyz or /metrics\n"};
}

asio::awaitable<HttpResponse> Observability::livez() {
  // Answering at all proves the I/O thread is not stuck. Beyond that: a
  // worker with free slots whose queue has runnable jobs, but that has
  // claimed nothing for the idle timeout, is alive but not consuming.
  std::string problems;
  for (bullmq::Worker* worker : workers_) {
    // Not consuming on purpose: stopping, Redis down or refusing (readiness
    // says so; a restart would not help), rate limited, or a dependency of
    // the processors down.
    if (worker->closing() || !worker->redis_ready() || !worker->redis_refusal().empty() ||
        worker->rate_limited() || worker->gated())
      continue;
    if (worker->in_flight() >= worker->options().concurrency) continue;
    const std::int64_t idle_ms = bullmq::now_ms() - worker->last_claim_ms();
    if (idle_ms < idle_timeout_ms_) continue;
    bullmq::QueueDepth depth;
    try {
      depth = co_await worker->read_depth();
    } catch (const std::exception&) {
      continue;  // Redis trouble is readiness's business
    }
    const std::int64_t runnable = depth.wait + depth.prioritized;
    const bool globally_maxed =
        depth.global_concurrency > 0 && depth.active >= depth.global_concurrency;
    if (runnable > 0 && !depth.paused && !globally_maxed) {
      problems += "queue " + worker->options().queue + " has " + std::to_string(runnable) +
                  " waiting jobs but this worker claimed none for " +
                  std::to_string(idle_ms / 1000) + " s\n";
    }
  }
  if (!problems.empty()) co_return HttpResponse{503, "text/plain; charset=utf-8", problems};
  co_return HttpResponse{200, "text/plain; charset=utf-8", "ok\n"};
}

asio::awaitable<std::string> Observability::run_check(const bullmq::DependencyCheck& check) {
  // The check blocks (a round trip to the dependency): run it on the pool. A
  // copy: the probe's caller may be gone before a hung check returns.
  auto work = [check]() -> std::string {
    try {
      return check();
    } catch (const std::exception& e) {
      return e.what();
    }
  };
  co_return co_await bullmq::on_pool(pool_, &work);
}

asio::awaitable<HttpResponse> Observability::readyz() {
  std::string problems;
  for (bullmq::Worker* worker : workers_) {
    const std::string& queue = worker->options().queue;
    if (worker->closing())
      problems += "queue " + queue + ": shutting down\n";
    else if (!worker->redis_ready() || !worker->blocking_ready()) {
      std::string why = worker->redis_connection_problem();
      if (why.empty()) why = topology_.problem();
      problems += "queue " + queue + ": Redis not connected" +
                  (why.empty() ? std::string(" (or scripts not loaded)") : ": " + why) + "\n";
    } else if (!worker->redis_refusal().empty()) {
      problems += "queue " + queue + ": Redis refuses the worker's commands (for " +
                  std::to_string((bullmq::now_ms() - worker->redis_refusal_since_ms()) / 1000) +
                  " s; claiming no jobs): " + worker->redis_refusal() + "\n";
    }
  }
  for (const auto& [name, outage] : gate_.down()) {
    problems += "dependency " + name + " unavailable for " +
                std::to_string((bullmq::now_ms() - outage.since_ms) / 1000) +
                " s; claiming no jobs: " + outage.reason + "\n";
  }
  if (problems.empty()) {
    for (const auto& [name, check] : gate_.checks()) {
      std::string problem = co_await run_check(check);
      if (!problem.empty()) problems += "dependency " + name + ": " + problem + "\n";
    }
  }
  if (!problems.empty()) co_return HttpResponse{503, "text/plain; charset=utf-8", problems};
  co_return HttpResponse{200, "text/plain; charset=utf-8", "ready\n"};
}

asio::awaitable<HttpResponse> Observability::metrics() {
  Exposition e;
  e.family(
      "bullmq_worker_jobs_total", "counter",
      "Jobs handled by this worker by outcome: claimed, completed, failed (final), retried, moved "
      "(back to delayed or waiting-children by the processor), deferred (back to delayed without "
      "an attempt: a dependency was down).");
  for (bullmq::Worker* w : workers_) {
    for (const auto& [name, s] : w->stats().by_name) {
      const std::string base =
          "queue=\"" + label(w->options().queue) + "\",name=\"" + label(name) + "\"";
      e.sample("bullmq_worker_jobs_total", base + ",outcome=\"claimed\"",
               std::to_string(s.claimed));
      e.sample("bullmq_worker_jobs_total", base + ",outcome=\"completed\"",
               std::to_string(s.completed));
      e.sample("bullmq_worker_jobs_total", base + ",outcome=\"failed\"", std::to_string(s.failed));
      e.sample("bullmq_worker_jobs_total", base + ",outcome=\"retried\"",
               std::to_string(s.retried));
      e.sample("bullmq_worker_jobs_total", base + ",outcome=\"moved\"",
               std::to_string(s.moved_by_processor));
      e.sample("bullmq_worker_jobs_total", base + ",outcome=\"deferred\"",
               std::to_string(s.deferred));
    }
  }
  e.family("bullmq_worker_job_duration_seconds", "histogram",
           "Time from claim to outcome, by job name.");
  for (bullmq::Worker* w : workers_) {
    for (const auto& [name, s] : w->stats().by_name) {
      const std::string base =
          "queue=\"" + label(w->options().queue) + "\",name=\"" + label(name) + "\"";
      for (std::size_t i = 0; i < bullmq::kDurationBuckets.size(); ++i) {
        e.sample("bullmq_worker_job_duration_seconds_bucket",
                 base + ",le=\"" + number(bullmq::kDurationBuckets[i]) + "\"",
                 std::to_string(s.processing_buckets[i]));
      }
      e.sample("bullmq_worker_job_duration_seconds_bucket", base + ",le=\"+Inf\"",
               std::to_string(s.processing_count));
      e.sample("bullmq_worker_job_duration_seconds_sum", base, number(s.processing_seconds_sum));
      e.sample("bullmq_worker_job_duration_seconds_count", base,
               std::to_string(s.processing_count));
    }
  }
  auto per_worker = [&](std::string_view metric, std::string_view type, std::string_view help,
                        auto value) {
    e.family(metric, type, help);
    for (bullmq::Worker* w : workers_) {
      e.sample(metric, "queue=\"" + label(w->options().queue) + "\"", value(*w));
    }
  };
  per_worker("bullmq_worker_active_jobs", "gauge", "Jobs this worker is running now.",
             [](const bullmq::Worker& w) { return std::to_string(w.active_jobs()); });
  per_worker("bullmq_worker_concurrency", "gauge", "Configured concurrency.",
             [](const bullmq::Worker& w) { return std::to_string(w.options().concurrency); });
  per_worker("bullmq_worker_stalled_jobs_recovered_total", "counter",
             "Stalled jobs this worker's checks moved back to wait.",
             [](const bullmq::Worker& w) { return std::to_string(w.stalled_recovered()); });
  per_worker("bullmq_worker_lock_renewals_total", "counter", "Job locks renewed.",
             [](const bullmq::Worker& w) { return std::to_string(w.lock_renewals()); });
  per_worker("bullmq_worker_locks_lost_total", "counter", "Running jobs whose lock was lost.",
             [](const bullmq::Worker& w) { return std::to_string(w.stats().locks_lost); });
  per_worker("bullmq_worker_redis_reconnects_total", "counter", "Reconnections to Redis.",
             [](const bullmq::Worker& w) { return std::to_string(w.redis_reconnects()); });
  per_worker("bullmq_worker_redis_connected", "gauge", "1 when both Redis connections are up.",
             [](const bullmq::Worker& w) {
               return std::string(w.redis_ready() && w.blocking_ready() ? "1" : "0");
             });
  per_worker(
      "bullmq_worker_redis_refusing", "gauge",
      "1 while Redis refuses the commands that claim jobs (MISCONF, OOM, READONLY, NOPERM, "
      "…).",
      [](const bullmq::Worker& w) { return std::string(w.redis_refusal().empty() ? "0" : "1"); });

  e.family("bullmq_worker_dependency_up", "gauge",
           "1 while a dependency of the processors answers, 0 while it is down (no claims).");
  for (const auto& [name, up] : gate_.states())
    e.sample("bullmq_worker_dependency_up", "dependency=\"" + label(name) + "\"", up ? "1" : "0");
  e.family("bullmq_worker_dependency_outages_total", "counter",
           "Times a dependency of the processors was reported down.");
  e.sample("bullmq_worker_dependency_outages_total", "", std::to_string(gate_.outages()));
  e.family("bullmq_worker_processor_threads", "gauge",
           "Threads started for processors that block (and dependency checks); they start "
           "as work first needs them, up to --processor-threads.");
  e.sample("bullmq_worker_processor_threads", "", std::to_string(pool_.threads()));
  e.family("bullmq_worker_processor_threads_busy", "gauge",
           "Blocking work running or waiting for one of those threads.");
  e.sample("bullmq_worker_processor_threads_busy", "", std::to_string(pool_.busy()));
  e.family("bullmq_worker_coroutine_failures_total", "counter",
           "Exceptions that escaped a background task of the worker (each is logged as "
           "coroutine.failed; any is a bug).");
  e.sample("bullmq_worker_coroutine_failures_total", "",
           std::to_string(bullmq::escaped_coroutine_exceptions()));
  if (tracing_) {
    const SpanCounts spans = tracing_->counts();
    e.family("bullmq_worker_spans_total", "counter",
             "Job spans by fate: exported (accepted by the collector), dropped (queue full or "
             "shutdown deadline), failed (export given up).");
    e.sample("bullmq_worker_spans_total", "outcome=\"exported\"", std::to_string(spans.exported));
    e.sample("bullmq_worker_spans_total", "outcome=\"dropped\"", std::to_string(spans.dropped));
    e.sample("bullmq_worker_spans_total", "outcome=\"failed\"", std::to_string(spans.failed));
    e.family("bullmq_worker_spans_queued", "gauge", "Finished spans waiting to be exported.");
    e.sample("bullmq_worker_spans_queued", "", std::to_string(spans.queued));
  }

  e.family("bullmq_queue_jobs", "gauge",
           "Jobs of the queue by state, read from Redis at scrape time.");
  for (bullmq::Worker* w : workers_) {
    if (!w->redis_ready()) continue;
    bullmq::QueueDepth d;
    try {
      d = co_await w->read_depth();
    } catch (const std::exception&) {
      continue;
    }
    const std::string q = "queue=\"" + label(w->options().queue) + "\",state=";
    e.sample("bullmq_queue_jobs", q + "\"waiting\"", std::to_string(d.wait));
    e.sample("bullmq_queue_jobs", q + "\"prioritized\"", std::to_string(d.prioritized));
    e.sample("bullmq_queue_jobs", q + "\"delayed\"", std::to_string(d.delayed));
    e.sample("bullmq_queue_jobs", q + "\"active\"", std::to_string(d.active));
    e.sample("bullmq_queue_jobs", q + "\"waiting-children\"", std::to_string(d.waiting_children));
    e.sample("bullmq_queue_jobs", q + "\"completed\"", std::to_string(d.completed));
    e.sample("bullmq_queue_jobs", q + "\"failed\"", std::to_string(d.failed));
  }
  co_return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", e.take()};
}

}  // namespace app
