#include "processing/pipeline/register_pipeline.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "processing/extraction/isolated_extraction.hpp"
#include "processing/pipeline/batch_aggregator.hpp"
#include "processing/pipeline/file_processor.hpp"
#include "processing/pipeline/pipeline_dependencies.hpp"

namespace processing {

ExtractFunction isolated_extractor(std::filesystem::path worker_executable,
                                   std::size_t documents_per_child) {
  if (worker_executable.empty()) {
    throw std::invalid_argument("the isolated extractor needs the worker executable's path");
  }
  if (documents_per_child > 1) {
    auto pool = std::make_shared<ExtractorPool>(std::move(worker_executable), documents_per_child);
    return [pool](const std::filesystem::path& storage_root, std::string_view relative_path,
                  const ExtractionLimits& limits) {
      return pool->extract(storage_root, relative_path, limits);
    };
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
  if (!extract)
    extract = isolated_extractor(config.worker_executable, config.documents_per_extractor);
  setup.add_dependency(std::string(kDatabaseDependency), database_check(pool));
  setup.add_dependency(std::string(kStorageDependency), storage_check(config.storage_root));
  setup.add_processor(std::string(kProcessFileJobName),
                      std::make_shared<FileProcessor>(pool, config, std::move(extract)));
  setup.add_processor(std::string(kAggregateBatchJobName),
                      std::make_shared<BatchAggregator>(std::move(pool), config));
}

}  // namespace processing
