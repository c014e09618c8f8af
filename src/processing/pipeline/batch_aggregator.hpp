// The `aggregate-batch` processor: once every file of a batch is finished,
// writes the batch's `run_summaries` row and closes the `processing_jobs` row.
//
// Job data: {"batch_id": "..."}; the processor adds "wait_rounds" (how often
// it already waited). While files are pending or processing, it calls
// move_to_delayed with a growing delay (first_delay * 2^round, capped at
// max_delay, never past the timeout) so no attempt is spent; once the batch is
// older than batch_timeout it marks the batch failed and fails unrecoverably.
// As a flow parent it reads its children's return values and ignored
// failures; rows a failed child left unfinished are marked failed
// ("job_failed"). The database rows stay the source of truth: the summary is
// rebuilt from them, so running the job twice gives the same rows.
// Returns {"batch_id","run_id","status","file_count","success_count",
// "error_count"}. Thread-safe; shares the connection pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "bullmq_worker/processor.hpp"
#include "db/connection_pool.hpp"
#include "processing/pipeline/pipeline_config.hpp"

namespace processing {

struct AggregateJobData {
  std::string batch_id;
  std::int64_t wait_rounds = 0;
};

// Throws bullmq_worker::UnrecoverableError ("invalid_job_data: ...") when `json` is
// not an object with a non-empty string batch_id.
AggregateJobData parse_aggregate_job_data(std::string_view json);

// Delay before re-checking after `round` earlier waits.
std::chrono::milliseconds aggregate_wait_delay(const PipelineConfig& config, std::int64_t round);

class BatchAggregator : public bullmq_worker::Processor {
 public:
  BatchAggregator(std::shared_ptr<db::ConnectionPool> pool, PipelineConfig config);

  std::string process(const bullmq_worker::Job& job, bullmq_worker::JobContext& context) override;

 private:
  std::shared_ptr<db::ConnectionPool> pool_;
  PipelineConfig config_;
};

}  // namespace processing
