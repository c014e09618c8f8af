// Settings shared by the document pipeline's processors (process-file,
// aggregate-batch), filled by the app from flags / environment, plus the
// extractor function type the processors call. Plain values; the processors
// keep their own copy.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string_view>

#include "processing/extraction/extraction.hpp"

namespace processing {

// Same contract as processing::extract_file (see extraction.hpp): resolve
// `relative_path` under `storage_root`, extract under `limits`, throw
// ExtractionError on failure. Injectable so tests can use a fake and the app
// can run extraction in an isolated process.
using ExtractFunction =
    std::function<ExtractionResult(const std::filesystem::path& storage_root,
                                   std::string_view relative_path, const ExtractionLimits& limits)>;

struct PipelineConfig {
  std::filesystem::path storage_root;  // STORAGE_BASE_PATH
  // A row left in 'processing' by another job for this long may be taken over.
  std::chrono::seconds stale_processing_limit{15 * 60};
  // BATCH_PROCESSING_TIMEOUT: aggregate-batch gives up on a batch whose files
  // are still unfinished this long after the batch was created.
  std::chrono::seconds batch_timeout{1800};
  ExtractionLimits limits;
  // The bullmq-worker binary, for the isolated extractor (the app wires it).
  std::filesystem::path worker_executable;
  // Documents one extraction child takes: 1 = a new child per document; more
  // = children that stay (ExtractorPool), started once per that many.
  std::size_t documents_per_extractor = 1;
  // aggregate-batch re-checks unfinished batches after first_delay, doubling
  // each round up to max_delay (move_to_delayed: no attempt is spent).
  std::chrono::milliseconds aggregate_first_delay{1000};
  std::chrono::milliseconds aggregate_max_delay{60'000};
};

inline constexpr std::string_view kProcessFileJobName = "process-file";
inline constexpr std::string_view kAggregateBatchJobName = "aggregate-batch";

}  // namespace processing
