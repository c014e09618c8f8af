// The binary's configuration: every `run` setting, filled from flags, their
// environment twins and defaults, then validated. Plain values owned by main.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bullmq/logger.hpp"
#include "bullmq/redis_options.hpp"
#include "bullmq/worker_options.hpp"
#include "processing/command/command_spec.hpp"

namespace app {

// One queue this process consumes, with its own concurrency.
struct QueueSpec {
  std::string name;
  int concurrency = 1;
};

struct RunConfig {
  bullmq::WorkerOptions worker;  // shared settings; queue/concurrency per QueueSpec
  std::vector<QueueSpec> queues;
  bullmq::RedisOptions redis;
  std::string processors = "files";  // "files", "conformance" or "none"
  // --command NAME=PROGRAM…: parsed, programs resolved; run in the sandbox.
  std::vector<processing::CommandSpec> commands;
  processing::CommandLimits command_limits;
  bullmq::LogLevel log_level = bullmq::LogLevel::kInfo;
  bullmq::LogFormat log_format = bullmq::LogFormat::kJson;

  // The document pipeline (processors "files").
  std::string database_url;
  std::string storage_base_path;
  std::int64_t batch_processing_timeout_s = 1800;
  int database_pool_size = 0;  // 0 = concurrency
  bool migrate = false;        // run migrations before starting

  // Probes and metrics.
  int http_port = 0;  // 0 = off
  std::string http_host = "0.0.0.0";
  std::int64_t liveness_idle_timeout_s = 300;
};

// The effective settings as JSON, passwords masked (for --print-config).
std::string describe_config(const RunConfig& config);

// A URL with the password part of its user-info replaced by ***.
std::string mask_url_password(const std::string& url);

}  // namespace app
