// The `process-file` processor: extracts one uploaded file and records the
// result in `file_extractions`.
//
// Job data: {"doc_id": "..."} and optionally "run_id", "file_path",
// "file_name" (used to create the row when the backend did not). Steps:
// claim the row ('processing'), extract through the injected ExtractFunction,
// write 'completed' with raw_extraction, or 'failed' with error_type and
// error_message. Idempotent: a completed row is not processed again; a row
// another job holds in 'processing' is a retryable error until it is older
// than the stale limit, then it is taken over; a 'processing' row left by an
// earlier attempt of the same job is resumed.
//
// Outcomes: bullmq_worker::UnrecoverableError for malformed data and permanent
// extraction errors (no retries); bullmq_worker::DependencyUnavailable while
// PostgreSQL or the storage root cannot be reached (no attempt spent, nothing
// recorded as failed); std::runtime_error for other retryable errors. Every error message is a
// process_file_error() (process_file_error.hpp), which the aggregator recognises. Returns
// {"doc_id","status","type","pages","words","sha256","size_bytes", "duration_ms"} (+ "note" when
// the file was already done; + "timing_us" {claim, sandbox_start, extract, sandbox_finish, save,
// total} when it was extracted now, the measured ones only). The processor shares the connection
// pool; it is thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bullmq_worker/processor.hpp"
#include "db/connection_pool.hpp"
#include "processing/pipeline/pipeline_config.hpp"

namespace processing {

struct FileJobData {
  std::string doc_id;
  std::optional<std::string> run_id;
  std::optional<std::string> file_path;
  std::optional<std::string> file_name;
};

// Throws bullmq_worker::UnrecoverableError ("invalid_job_data: ...") when `json` is
// not an object with a non-empty string doc_id, or an optional field is not a
// string.
FileJobData parse_file_job_data(std::string_view json);

class FileProcessor : public bullmq_worker::Processor {
 public:
  // `extract` must not be empty (std::invalid_argument otherwise).
  FileProcessor(std::shared_ptr<db::ConnectionPool> pool, PipelineConfig config,
                ExtractFunction extract);

  std::string process(const bullmq_worker::Job& job, bullmq_worker::JobContext& context) override;

 private:
  std::shared_ptr<db::ConnectionPool> pool_;
  PipelineConfig config_;
  ExtractFunction extract_;
};

}  // namespace processing
