// Extraction in a separate process, so that a crash, a hang or runaway memory
// in a parser (poppler, libzip, pugixml, libmagic) cannot take the worker
// down. The worker binary doubles as the helper: its main() dispatches
// `argv[1] == "extract-file"` to run_extract_file_command(). Owned by the
// document extractors.
#pragma once

#include <filesystem>
#include <string_view>

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
int run_extract_file_command(int argc, char** argv);

}  // namespace processing
