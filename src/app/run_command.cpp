#include "app/run_command.hpp"

#include <unistd.h>

#include <csignal>
#include <iostream>
#include <memory>

#include "bullmq/asio.hpp"
#include "bullmq/logger.hpp"
#include "bullmq/worker.hpp"
#include "db/connection_pool.hpp"
#include "db/migrations.hpp"
#include "processing/conformance_processors.hpp"
#include "processing/pipeline/register_pipeline.hpp"

namespace app {
namespace {

using bullmq::logger;
namespace asio = bullmq::asio;

std::string executable_path(const char* argv0) {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
  return argv0;
}

}  // namespace

int run_worker(const RunConfig& config, const char* argv0) {
  bullmq::Logger::instance().configure(config.log_level, config.log_format);
  bullmq::ProcessorRegistry registry;
  if (config.processors == "conformance") {
    processing::register_conformance_processors(registry);
  } else {
    if (config.migrate) {
      if (int rc = db::run_migrations(config.database_url, std::cerr); rc != 0) return rc;
    }
    const int pool_size = config.database_pool_size > 0 ? config.database_pool_size : config.worker.concurrency;
    db::PoolOptions pool_options;
    pool_options.max_connections = static_cast<std::size_t>(pool_size);
    auto pool = std::make_shared<db::ConnectionPool>(config.database_url, pool_options);
    processing::PipelineConfig pipeline;
    pipeline.storage_root = config.storage_base_path;
    pipeline.batch_timeout = std::chrono::seconds(config.batch_processing_timeout_s);
    pipeline.worker_executable = executable_path(argv0);
    processing::register_pipeline_processors(registry, pool, pipeline);
  }

  asio::io_context io(1);
  const int threads = config.worker.processor_threads > 0 ? config.worker.processor_threads
                                                          : config.worker.concurrency;
  asio::thread_pool pool(static_cast<std::size_t>(threads));
  auto worker = std::make_unique<bullmq::Worker>(io, pool, config.redis, config.worker, registry);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  int signal_count = 0;
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int sig) {
    if (ec) return;
    ++signal_count;
    logger().info("worker.signal", "received a stop signal", {{"signal", sig}, {"count", signal_count}});
    if (signal_count == 1) {
      worker->shutdown([&] {
        signals.cancel();
        io.stop();
      });
    } else {
      worker->abandon_running_jobs();
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  worker->start();
  io.run();

  if (worker->has_abandoned_processors()) {
    // Jobs were handed back but their processing threads are still busy;
    // joining them would outlive the shutdown deadline.
    logger().info("worker.exit", "exiting with processing threads still busy on handed-back jobs");
    std::fflush(nullptr);
    ::_exit(0);
  }
  pool.join();
  return 0;
}

int run_migrate(const std::string& database_url) { return db::run_migrations(database_url, std::cerr); }

}  // namespace app
