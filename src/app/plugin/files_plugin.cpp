// The `files` plugin's entry points (see app/files_plugin_api.hpp): its
// processors through the SDK's plugin entry, and the migrate and
// extract-file commands.
#include <charconv>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

#include "app/files_plugin_api.hpp"
#include "bullmq_worker/plugin.hpp"
#include "db/connection_pool.hpp"
#include "db/migrations.hpp"
#include "processing/extraction/isolated_extraction.hpp"
#include "processing/pipeline/register_pipeline.hpp"

namespace {

std::string required(const bullmq_worker::PluginConfig& config, const char* key) {
  auto value = config.get(key);
  if (!value || value->empty()) {
    throw std::invalid_argument(std::string("the files plugin needs the setting '") + key + "'");
  }
  return *value;
}

std::int64_t number(const bullmq_worker::PluginConfig& config, const char* key,
                    std::int64_t fallback) {
  auto value = config.get(key);
  if (!value) return fallback;
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), n);
  if (ec != std::errc() || end != value->data() + value->size() || n <= 0) {
    throw std::invalid_argument(std::string("the files plugin's setting '") + key +
                                "' must be a positive integer, not '" + *value + "'");
  }
  return n;
}

void set_up_files(bullmq_worker::PluginSetup& setup) {
  const auto& config = setup.config();
  db::PoolOptions pool_options;
  pool_options.max_connections =
      static_cast<std::size_t>(number(config, app::kFilesDatabasePoolSize, 4));
  auto pool =
      std::make_shared<db::ConnectionPool>(required(config, app::kFilesDatabaseUrl), pool_options);
  processing::PipelineConfig pipeline;
  pipeline.storage_root = required(config, app::kFilesStorageBasePath);
  pipeline.batch_timeout =
      std::chrono::seconds(number(config, app::kFilesBatchTimeoutSeconds, 1800));
  pipeline.worker_executable = required(config, app::kFilesWorkerExecutable);
  pipeline.documents_per_extractor =
      static_cast<std::size_t>(number(config, app::kFilesDocumentsPerExtractor, 1));
  processing::register_pipeline_processors(setup, pool, pipeline);
}

}  // namespace

BULLMQ_WORKER_PLUGIN("files", BULLMQ_WORKER_VERSION, set_up_files)

extern "C" {

__attribute__((visibility("default"))) int bullmq_files_migrate(const char* database_url) {
  return db::run_migrations(database_url, std::cerr);
}

__attribute__((visibility("default"))) int bullmq_files_extract(int argc, char** argv) {
  return processing::run_extract_file_command(argc, argv);
}
}
