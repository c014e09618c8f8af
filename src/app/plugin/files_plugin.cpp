// The `files` plugin's entry points (see app/files_plugin_api.hpp).
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <string>

#include "app/files_plugin_api.hpp"
#include "db/connection_pool.hpp"
#include "db/migrations.hpp"
#include "processing/isolated_extraction.hpp"
#include "processing/pipeline/register_pipeline.hpp"

namespace {

void copy_error(const char* message, char* error, std::size_t error_size) {
  if (error_size == 0) return;
  std::strncpy(error, message, error_size - 1);
  error[error_size - 1] = '\0';
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int bullmq_files_register(
    bullmq::ProcessorRegistry* registry, const BullmqFilesConfig* config, char* error,
    std::size_t error_size) {
  try {
    db::PoolOptions pool_options;
    pool_options.max_connections = static_cast<std::size_t>(config->database_pool_size);
    auto pool = std::make_shared<db::ConnectionPool>(config->database_url, pool_options);
    processing::PipelineConfig pipeline;
    pipeline.storage_root = config->storage_base_path;
    pipeline.batch_timeout = std::chrono::seconds(config->batch_processing_timeout_s);
    pipeline.worker_executable = config->worker_executable;
    processing::register_pipeline_processors(*registry, pool, pipeline);
    return 0;
  } catch (const std::exception& e) {
    copy_error(e.what(), error, error_size);
    return 1;
  }
}

__attribute__((visibility("default"))) int bullmq_files_migrate(const char* database_url) {
  return db::run_migrations(database_url, std::cerr);
}

__attribute__((visibility("default"))) int bullmq_files_extract(int argc, char** argv) {
  return processing::run_extract_file_command(argc, argv);
}
}
