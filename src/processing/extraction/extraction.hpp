// Document extraction: the one entry point processors use to turn a stored
// file into a JSON description. Knows nothing of Redis or SQL.
//
// extract_file() resolves a path relative to the storage root (refusing any
// escape), detects the content type with libmagic, runs the extractor for that
// type under the given limits, and always reports size, SHA-256, MIME type and
// the extractor's name and version. Failures are ExtractionError values with a
// classification (permanent or retryable) and a stable error_type string.
// For a hard time and memory limit use extract_file_isolated()
// (isolated_extraction.hpp). The driver of src/processing/extraction (the
// formats' extractors live in its subfolders); the pipeline processors call it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/classified_error.hpp"

namespace processing {

struct ExtractionLimits {
  std::uint64_t max_file_bytes = 100ull << 20;          // larger files are refused
  std::uint64_t max_text_chars = 1'000'000;             // text kept in the JSON
  std::uint64_t max_archive_entries = 10'000;           // ZIP / DOCX / XLSX
  std::uint64_t max_uncompressed_bytes = 512ull << 20;  // sum over entries
  double max_compression_ratio = 200.0;                 // per entry and total
  std::uint64_t max_preview_rows = 20;                  // XLSX rows per sheet
  std::chrono::milliseconds time_limit{60'000};         // per file; 0 = already expired
  std::uint64_t max_memory_bytes = 2ull << 30;          // isolated runs only (RLIMIT_AS)
};

// error_type values (stable; stored in file_extractions.error_type):
//   permanent: "missing_file", "path_escape", "too_large", "corrupt",
//              "archive_limits", "timeout", "invalid_input"
//   retryable: "storage_unavailable" (storage root missing, I/O error),
//              "extractor_unavailable" (the isolated extraction process could
//              not be started or answered with something unreadable)
// Retryable or permanent in the project's one classification
// (common/classified_error.hpp).
class ExtractionError : public common::ClassifiedError {
 public:
  ExtractionError(std::string error_type, bool retryable, const std::string& message)
      : common::ClassifiedError(message,
                                retryable ? common::Retry::kRetryable : common::Retry::kPermanent),
        error_type_(std::move(error_type)) {}
  const std::string& error_type() const { return error_type_; }

 private:
  std::string error_type_;
};

// Where the time of one extraction went, in µs; -1 = not measured. extract_file()
// sets extract_us (its own run); extract_file_isolated() sets all three, from the
// child's report and its own clock (steady_clock: CLOCK_MONOTONIC, one clock for
// every process on the machine). For the benchmark (scripts/bench.sh --scenario
// pipeline); nothing decides on them.
struct ExtractionTiming {
  std::int64_t sandbox_start_us = -1;   // spawning the child until it begins extracting
  std::int64_t extract_us = -1;         // extract_file's own run (in the child when isolated)
  std::int64_t sandbox_finish_us = -1;  // the rest: result written and read, exit, reap, decode
};

struct ExtractionResult {
  std::string json;       // the full raw_extraction object (JSON text)
  std::string kind;       // "text", "pdf", "docx", "xlsx", "zip", "other"
  std::string mime_type;  // as detected
  std::string sha256;     // hex
  std::uint64_t size_bytes = 0;
  std::int64_t pages = 0;  // PDF pages, 0 otherwise
  std::int64_t words = 0;  // words of extracted text
  bool truncated = false;  // text was cut at max_text_chars
  ExtractionTiming timing;
};

// Throws ExtractionError on every failure; never crashes on hostile input.
// The time limit is checked cooperatively (between pages, entries, rows); a
// hard limit needs extract_file_isolated() (isolated_extraction.hpp).
ExtractionResult extract_file(const std::filesystem::path& storage_root,
                              std::string_view relative_path, const ExtractionLimits& limits);

}  // namespace processing
