// Registers the document pipeline's processors through a plugin setup:
// "process-file" -> FileProcessor, "aggregate-batch" -> BatchAggregator.
// The caller (the app) owns the pool and the configuration; the processors
// keep shared ownership of the pool and their own copy of the configuration.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>

#include "bullmq_worker/plugin_setup.hpp"
#include "db/connection_pool.hpp"
#include "processing/pipeline/pipeline_config.hpp"

namespace processing {

// The production extractor: processing::extract_file_isolated run through
// `worker_executable` (the bullmq-worker binary, `extract-file` subcommand);
// with documents_per_child > 1, an ExtractorPool of children that stay for
// that many documents each. Throws std::invalid_argument when the path is
// empty.
ExtractFunction isolated_extractor(std::filesystem::path worker_executable,
                                   std::size_t documents_per_child = 1);

// `extract` defaults to isolated_extractor(config.worker_executable,
// config.documents_per_extractor); tests
// pass a fake. Throws std::invalid_argument when the pool is missing, or when
// no extractor is given and config.worker_executable is empty.
void register_pipeline_processors(bullmq_worker::PluginSetup& setup,
                                  std::shared_ptr<db::ConnectionPool> pool,
                                  const PipelineConfig& config, ExtractFunction extract = {});

}  // namespace processing
