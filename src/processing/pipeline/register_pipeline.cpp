#include "processing/pipeline/register_pipeline.hpp"

#include <stdexcept>
#include <string>
#include <utility>

#include "processing/extraction/isolated_extraction.hpp"
#include "processing/pipeline/batch_aggregator.hpp"
#include "processing/pipeline/file_processor.hpp"
#include "processing/pipeline/pipeline_dependencies.hpp"

namespace processing {

ExtractFunction isolated_extractor(std::filesystem::path worker_executable) {
  if (worker_executable.empty()) {
    throw std::invalid_argument("the isolated extractor needs the worker executable's path");
  }
  return [exe = std::move(worker_executable)](const std::filesystem::path& storage_root,
                                              std::string_view relative_path,
                                              const ExtractionLimits& limits) {
    return extract_file_isolated(exe, storage_root, relative_path, limits);
  };
}

void register_pipeline_processors(bullmq_worker::PluginSetup& setup,
                                  std::shared_ptr<db::ConnectionPool> pool,
                                  const PipelineConfig& config, ExtractFunction extract) {
  if (!extract) extract = isolated_extractor(config.worker_executable);
  setup.add_dependency(std::string(kDatabaseDependency), database_check(pool));
  setup.add_dependency(std::string(kStorageDependency), storage_check(config.storage_root));
  setup.add_processor(std::string(kProcessFileJobName),
                      std::make_shared<FileProcessor>(pool, config, std::move(extract)));
  setup.add_processor(std::string(kAggregateBatchJobName),
                      std::make_shared<BatchAggregator>(std::move(pool), config));
}

}  // namespace processing
