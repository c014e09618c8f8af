// Extraction in a separate process, so that a crash, a hang or runaway memory
// in a parser (poppler, libzip, pugixml, libmagic) cannot take the worker
// down. The worker binary doubles as the helper: its main() dispatches
// `argv[1] == "extract-file"` to run_extract_file_command(). Owned by the
// document extractors.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "processing/extraction/extraction.hpp"

namespace processing {

// Runs `<worker_executable> extract-file --root R --path P [limit flags]`,
// with RLIMIT_AS (limits.max_memory_bytes) and RLIMIT_CPU set in the child,
// and returns its result. Throws ExtractionError: the child's own error;
// "timeout" when limits.time_limit passes (the child is killed by its pid);
// "corrupt" naming the signal when the child crashes; "extractor_unavailable"
// (retryable) when it cannot be started or answers with something unreadable.
// On success result.timing splits the time: spawn to the child's start of
// extraction, the extraction, and the rest (see ExtractionTiming).
ExtractionResult extract_file_isolated(const std::filesystem::path& worker_executable,
                                       const std::filesystem::path& storage_root,
                                       std::string_view relative_path,
                                       const ExtractionLimits& limits);

// Extraction in children that stay for up to `documents_per_child` documents
// each (`extract-file --serve N`), instead of one new child per document: the
// start-up (exec, libraries, libmagic's database) is paid once per child. The
// same limits hold: RLIMIT_AS per child, RLIMIT_CPU per document (a soft limit
// the child moves up before each one, under a hard one for all N), the time
// limit per document (the child is killed at it). A child that crashes, hangs,
// overflows or answers garbage is dropped with the document's error, as in
// extract_file_isolated(); one that reported the document's own error serves
// on. Trade-off: documents share a process, up to N of them, so a parser
// exploit could see the ones after it. Children are kept per storage root and
// limits; thread-safe; destroying the pool kills and reaps its idle children.
class ExtractorPool {
 public:
  ExtractorPool(std::filesystem::path worker_executable, std::size_t documents_per_child);
  ~ExtractorPool();
  ExtractorPool(const ExtractorPool&) = delete;
  ExtractorPool& operator=(const ExtractorPool&) = delete;

  // As extract_file_isolated(); timing.sandbox_start includes the start of a
  // child when none was idle.
  ExtractionResult extract(const std::filesystem::path& storage_root,
                           std::string_view relative_path, const ExtractionLimits& limits);
  // Children started so far.
  std::size_t started() const { return started_.load(); }

 private:
  struct Child;
  std::unique_ptr<Child> take(const std::vector<std::string>& arguments,
                              std::string_view relative_path, const ExtractionLimits& limits);
  void give_back(std::unique_ptr<Child> child);

  std::filesystem::path worker_executable_;
  std::size_t documents_per_child_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Child>> idle_;
  std::atomic<std::size_t> started_{0};
};

// The `extract-file` subcommand (argv[1] == "extract-file"). Prints exactly
// one JSON object on stdout:
//   {"ok":true,"result":{"json":{...raw extraction...},"kind":...,"mime_type":...,
//                        "sha256":...,"size_bytes":...,"pages":...,"words":...,
//                        "truncated":...},
//    "timing":{"ready_ns":...,"extract_us":...}}
//   (ready_ns: steady_clock just before extracting; extract_us: its duration)
//   {"ok":false,"error_type":"...","retryable":false,"message":"..."}
// Returns 0 when it printed a result or an extraction error, 2 for bad usage.
// Flags: --root R --path P [--max-file-bytes N] [--max-text-chars N]
//   [--max-archive-entries N] [--max-uncompressed-bytes N]
//   [--max-compression-ratio X] [--max-preview-rows N] [--time-limit-ms N]
//   [--memory-limit-bytes N] [--cpu-limit-seconds N]
// With --serve N instead of --path: up to N documents, one JSON string (the
// relative path) per line on stdin, one message per line on stdout.
int run_extract_file_command(int argc, char** argv);

}  // namespace processing
