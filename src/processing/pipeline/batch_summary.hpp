// Builds a batch's summary from its database rows: the counts and final
// status, the `ui_json` (batch + one row per file, for a UI table) and the
// `nested_summary` (the batch's folder tree with counts per folder, per type
// and per status). Pure functions of their inputs, so re-running an
// aggregation over unchanged rows yields identical JSON.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "db/file_extractions_repository.hpp"
#include "db/processing_jobs_repository.hpp"
#include "processing/pipeline/pipeline_json.hpp"

namespace processing {

struct BatchCounts {
  int file_count = 0;  // rows
  int completed = 0;
  int failed = 0;
  int pending = 0;
  int processing = 0;
  int missing = 0;  // total_files - rows, when the batch expects more rows
  int unfinished() const { return pending + processing + missing; }
};

BatchCounts count_files(const db::ProcessingJob& batch,
                        const std::vector<db::FileExtraction>& files);

// Final status of a batch whose files are all finished: completed (no
// failures, also for an empty batch), completed_with_errors, or failed (every
// file failed).
std::string final_status(const BatchCounts& counts);
// error_message stored with a final status (nullopt for completed).
std::optional<std::string> final_error_message(const BatchCounts& counts);

// What a flow parent learnt from its children (empty when not a flow).
struct FlowInputs {
  std::map<std::string, std::string> children_values;    // child key -> JSON
  std::map<std::string, std::string> children_failures;  // child key -> reason
  bool present() const { return !children_values.empty() || !children_failures.empty(); }
};

// What the pipeline knows of one file, from its row and raw_extraction.
struct FileFacts {
  std::string name;    // file_name, or the last path component
  std::string folder;  // directory part of file_path, without a leading "<run_id>/"
                       // (the batch's folder in storage); "" at the batch's root
  std::string type;    // extractor kind, else guessed from the extension
  std::optional<std::string> mime_type;
  std::optional<std::string> sha256;
  std::optional<std::int64_t> pages;
  std::optional<std::int64_t> words;
  std::optional<std::int64_t> size_bytes;
};
FileFacts file_facts(const db::FileExtraction& file);

// The batch's id, run, status and the three counts, as fields of the JSON
// object `w` is writing (shared by ui_json and the aggregator's result).
void write_batch_outcome_fields(pipeline_json::Writer& w, const db::ProcessingJob& batch,
                                const BatchCounts& counts);

std::string build_ui_json(const db::ProcessingJob& batch,
                          const std::vector<db::FileExtraction>& files, const BatchCounts& counts,
                          const FlowInputs& flow);
std::string build_nested_summary(const db::ProcessingJob& batch,
                                 const std::vector<db::FileExtraction>& files);

}  // namespace processing
