// The binary's configuration: every `run` setting, filled from flags, their
// environment twins and defaults, then validated. Plain values owned by main.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bullmq/logger.hpp"
#include "bullmq/redis_options.hpp"
#include "bullmq/worker_options.hpp"
#include "plugins/plugin_loader.hpp"
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
  // Built-in processor sets, comma-separated ("files", "conformance", "none");
  // empty until parsed: then "files", or "none" when plugins are given.
  std::string processors;
  std::vector<std::string> plugins;                                // --plugin paths
  std::vector<std::string> plugin_config_entries;                  // raw --plugin-config values
  std::map<std::string, plugins::PluginSettings> plugin_settings;  // by plugin name

  bool uses_processor_set(std::string_view set) const;
  // --command NAME=PROGRAM…: parsed, programs resolved; run in the sandbox.
  std::vector<processing::CommandSpec> commands;
  processing::CommandLimits command_limits;
  bullmq::LogLevel log_level = bullmq::LogLevel::kInfo;
  bullmq::LogFormat log_format = bullmq::LogFormat::kJson;

  // The document pipeline (processors "files").
  std::string database_url;
  std::string storage_base_path;
  std::int64_t batch_processing_timeout_s = 1800;
  int database_pool_size = 0;       // 0 = concurrency
  int documents_per_extractor = 1;  // 1 = a new extraction child per document
  bool migrate = false;             // run migrations before starting

  // Probes and metrics.
  int http_port = 0;  // 0 = off
  std::string http_host = "0.0.0.0";
  std::int64_t liveness_idle_timeout_s = 300;

  // Tracing (OTLP/HTTP); the other OTEL_* variables are read by src/telemetry.
  std::string otel_endpoint;  // base URL; empty = off (unless OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
  std::string otel_service_name;
};

// The effective settings as JSON, passwords masked (for --print-config).
std::string describe_config(const RunConfig& config);

// A URL with the password part of its user-info replaced by ***.
std::string mask_url_password(const std::string& url);

}  // namespace app
