#include "processing/pipeline/batch_aggregator.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "db/file_extractions_repository.hpp"
#include "db/processing_jobs_repository.hpp"
#include "db/run_summaries_repository.hpp"
#include "processing/pipeline/batch_summary.hpp"
#include "processing/pipeline/pipeline_dependencies.hpp"
#include "processing/pipeline/pipeline_json.hpp"
#include "processing/pipeline/process_file_error.hpp"

namespace processing {
namespace {

namespace pj = pipeline_json;

std::string error_text(const std::string& batch_id, std::string_view error_type,
                       std::string_view message) {
  std::string text = "aggregate-batch batch_id=" + (batch_id.empty() ? "?" : batch_id) + ": ";
  text += error_type;
  text += ": ";
  text += message;
  return text;
}

enum class Decision { kWait, kTimedOut, kDone };

struct Outcome {
  Decision decision = Decision::kDone;
  db::ProcessingJob batch;
  BatchCounts counts;
  std::vector<std::string> notes;  // logged after the transaction
  std::string message;             // timeout message
};

// Rows left pending/processing by children that failed: a flow parent only
// runs once every child finished, so those rows will not progress.
std::vector<std::string> resolve_failed_children(db::FileExtractionsRepository& files,
                                                 const std::vector<db::FileExtraction>& rows,
                                                 const FlowInputs& flow) {
  std::vector<std::string> notes;
  if (flow.children_failures.empty()) return notes;
  std::set<std::string> reported;
  for (const auto& [key, value] : flow.children_values) {
    rapidjson::Document doc;
    if (pj::parse_object(value, doc)) {
      if (auto doc_id = pj::get_string(doc, "doc_id")) reported.insert(*doc_id);
    }
  }
  std::vector<const db::FileExtraction*> candidates;
  for (const auto& row : rows) {
    if ((row.status == "pending" || row.status == "processing") && !reported.count(row.doc_id)) {
      candidates.push_back(&row);
    }
  }
  // Only when the failed children can account for every unfinished row.
  if (candidates.empty() || candidates.size() > flow.children_failures.size()) return notes;
  for (const auto* row : candidates) {
    std::string reason;
    for (const auto& [key, failure] : flow.children_failures) {
      if (process_file_error_names(failure, row->doc_id)) {
        reason = failure;
        break;
      }
    }
    if (reason.empty() && candidates.size() == 1 && flow.children_failures.size() == 1) {
      reason = flow.children_failures.begin()->second;
    }
    if (reason.empty()) reason = "its process-file job failed without recording a result";
    if (files.fail_unfinished(row->doc_id, "job_failed", reason)) {
      notes.push_back("marked " + row->doc_id + " failed: " + reason);
    }
  }
  return notes;
}

std::string result_json(const db::ProcessingJob& batch, const BatchCounts& counts) {
  rapidjson::StringBuffer buffer;
  pj::Writer w(buffer);
  w.StartObject();
  write_batch_outcome_fields(w, batch, counts);
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

void write_summary(db::RunSummariesRepository& summaries, const db::ProcessingJob& batch,
                   const std::vector<db::FileExtraction>& files, const BatchCounts& counts,
                   const FlowInputs& flow) {
  db::RunSummary summary;
  summary.run_id = batch.run_id;
  summary.ui_json = build_ui_json(batch, files, counts, flow);
  summary.nested_summary = build_nested_summary(batch, files);
  summary.file_count = counts.file_count;
  summary.success_count = counts.completed;
  summary.error_count = counts.failed;
  summaries.upsert(summary);
}

}  // namespace

AggregateJobData parse_aggregate_job_data(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  auto invalid = [](const std::string& message) {
    throw bullmq_worker::UnrecoverableError(error_text("", "invalid_job_data", message));
  };
  if (doc.HasParseError()) invalid("job data is not valid JSON");
  if (!doc.IsObject()) invalid("job data is not a JSON object");
  auto it = doc.FindMember("batch_id");
  if (it == doc.MemberEnd()) invalid("job data has no batch_id");
  if (!it->value.IsString()) invalid("batch_id is not a string");
  AggregateJobData data;
  data.batch_id.assign(it->value.GetString(), it->value.GetStringLength());
  if (data.batch_id.empty()) invalid("batch_id is empty");
  data.wait_rounds = std::max<std::int64_t>(0, pj::get_int(doc, "wait_rounds").value_or(0));
  return data;
}

std::chrono::milliseconds aggregate_wait_delay(const PipelineConfig& config, std::int64_t round) {
  const auto first = std::max<std::int64_t>(1, config.aggregate_first_delay.count());
  const auto cap = std::max<std::int64_t>(first, config.aggregate_max_delay.count());
  std::int64_t delay = first;
  for (std::int64_t i = 0; i < round && delay < cap; ++i) delay *= 2;
  return std::chrono::milliseconds(std::min(delay, cap));
}

BatchAggregator::BatchAggregator(std::shared_ptr<db::ConnectionPool> pool, PipelineConfig config)
    : pool_(std::move(pool)), config_(std::move(config)) {
  if (!pool_) throw std::invalid_argument("BatchAggregator needs a connection pool");
}

std::string BatchAggregator::process(const bullmq_worker::Job& job,
                                     bullmq_worker::JobContext& context) {
  const AggregateJobData data = parse_aggregate_job_data(job.data);
  const std::string& batch_id = data.batch_id;
  const double timeout_s = static_cast<double>(config_.batch_timeout.count());

  context.update_progress("5");
  FlowInputs flow{context.children_values(), context.ignored_children_failures()};
  if (flow.present()) {
    context.log("flow parent: " + std::to_string(flow.children_values.size()) +
                " children completed, " + std::to_string(flow.children_failures.size()) +
                " failed (ignored)");
  }

  Outcome outcome;
  try {
    outcome = pool_->transact([&](pqxx::work& tx) {
      db::ProcessingJobsRepository batches(tx);
      db::FileExtractionsRepository files(tx);
      db::RunSummariesRepository summaries(tx);
      Outcome o;
      auto batch = batches.find_by_batch_id(batch_id, /*for_update=*/true);
      if (!batch) {
        throw bullmq_worker::UnrecoverableError(
            error_text(batch_id, "invalid_job_data", "no processing_jobs row for this batch_id"));
      }
      auto rows = files.list_by_run_id(batch->run_id);
      if (flow.present()) {
        o.notes = resolve_failed_children(files, rows, flow);
        if (!o.notes.empty()) rows = files.list_by_run_id(batch->run_id);
      }
      o.counts = count_files(*batch, rows);
      if (o.counts.unfinished() > 0) {
        if (batch->age_seconds >= timeout_s) {
          o.decision = Decision::kTimedOut;
          o.message =
              "timed out after " + std::to_string(static_cast<long long>(batch->age_seconds)) +
              " s (BATCH_PROCESSING_TIMEOUT " + std::to_string(config_.batch_timeout.count()) +
              " s) with " + std::to_string(o.counts.unfinished()) + " of " +
              std::to_string(std::max(o.counts.file_count, batch->total_files.value_or(0))) +
              " files unfinished";
          o.batch = batches.finish(batch_id, "failed", o.message);
          write_summary(summaries, o.batch, rows, o.counts, flow);
          return o;
        }
        o.decision = Decision::kWait;
        if (batch->status == "queued") batches.mark_processing(batch_id);
        o.batch = std::move(*batch);
        return o;
      }
      o.decision = Decision::kDone;
      o.batch = batches.finish(batch_id, final_status(o.counts), final_error_message(o.counts));
      write_summary(summaries, o.batch, rows, o.counts, flow);
      return o;
    });
  } catch (const db::DatabaseUnavailable& e) {
    // Waits for the database like a batch whose files are pending.
    throw_database_unavailable(error_text(batch_id, "database_unavailable", e.what()));
  }
  for (const auto& note : outcome.notes) context.log(note);

  const BatchCounts& counts = outcome.counts;
  switch (outcome.decision) {
    case Decision::kTimedOut:
      context.log("batch " + batch_id + " failed: " + outcome.message);
      throw bullmq_worker::UnrecoverableError(
          error_text(batch_id, "batch_timeout", outcome.message));
    case Decision::kWait: {
      const double remaining_s = timeout_s - outcome.batch.age_seconds;
      auto delay = aggregate_wait_delay(config_, data.wait_rounds);
      const auto until_timeout =
          std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(remaining_s * 1000)) + 50);
      delay = std::max(std::chrono::milliseconds(1), std::min(delay, until_timeout));
      const int expected = std::max(counts.file_count, outcome.batch.total_files.value_or(0));
      const int finished = counts.completed + counts.failed;
      context.log("waiting for " + std::to_string(counts.unfinished()) + " of " +
                  std::to_string(expected) + " files (pending " + std::to_string(counts.pending) +
                  ", processing " + std::to_string(counts.processing) + ", missing " +
                  std::to_string(counts.missing) + "); checking again in " +
                  std::to_string(delay.count()) + " ms (round " +
                  std::to_string(data.wait_rounds + 1) + ")");
      context.update_progress(
          std::to_string(expected > 0 ? std::min(95, 5 + 90 * finished / expected) : 5));
      rapidjson::Document doc;
      doc.Parse(job.data.data(), job.data.size());  // valid: parsed above
      auto& a = doc.GetAllocator();
      if (doc.HasMember("wait_rounds")) doc.RemoveMember("wait_rounds");
      doc.AddMember("wait_rounds", data.wait_rounds + 1, a);
      context.update_data(pj::to_string(doc));
      context.move_to_delayed(delay);
    }
    case Decision::kDone:
      break;
  }
  context.update_progress("100");
  context.log("batch " + batch_id + " " + outcome.batch.status + ": " +
              std::to_string(counts.completed) + " completed, " + std::to_string(counts.failed) +
              " failed of " + std::to_string(counts.file_count));
  return result_json(outcome.batch, counts);
}

}  // namespace processing
