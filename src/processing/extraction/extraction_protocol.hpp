// The wire format between extract_file_isolated() and the `extract-file`
// subcommand: limits as command-line flags, the outcome as one JSON object.
// Owned by the document extractors (isolated extraction).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "processing/extraction/extraction.hpp"

namespace processing {

inline constexpr std::string_view kExtractFileCommand = "extract-file";

struct ExtractCommand {
  std::filesystem::path storage_root;
  std::string relative_path;
  ExtractionLimits limits;
  std::uint64_t memory_limit_bytes = 0;  // 0 = leave RLIMIT_AS alone
  std::uint64_t cpu_limit_seconds = 0;   // 0 = leave RLIMIT_CPU alone
  // --serve N: no --path; up to N requests, one per line on stdin (a JSON
  // string: the relative path), one message per line on stdout. 0 = once.
  std::uint64_t serve_documents = 0;
};

// argv[1...] for the child: "extract-file", "--root", R, "--path", P, limits.
std::vector<std::string> extract_command_arguments(const std::filesystem::path& storage_root,
                                                   std::string_view relative_path,
                                                   const ExtractionLimits& limits);

// argv[1...] for a serving child: "extract-file", "--root", R, "--serve", N, limits.
std::vector<std::string> extract_server_arguments(const std::filesystem::path& storage_root,
                                                  const ExtractionLimits& limits,
                                                  std::uint64_t documents);

// One request line of a serving child (without its newline), and back.
std::string serve_request(std::string_view relative_path);
std::optional<std::string> parse_serve_request(std::string_view line);

// Parses argv (argv[1] == "extract-file"); throws "invalid_input" on bad usage.
ExtractCommand parse_extract_command(int argc, char** argv);

// CPU seconds granted for a time limit (rounded up, plus one second).
std::uint64_t cpu_seconds_for(std::chrono::milliseconds time_limit);

// `ready_steady_ns` (the child's steady_clock, in ns since its epoch, just
// before it began extracting), when not negative, goes into the message with
// result.timing.extract_us as "timing": {"ready_ns", "extract_us"}.
std::string success_message(const ExtractionResult& result, std::int64_t ready_steady_ns = -1);
std::string failure_message(const ExtractionError& error);

// Decodes the child's message: returns the result, or throws the child's
// ExtractionError; throws "extractor_unavailable" when it is unreadable. The
// optional "timing" fills result.timing.extract_us and *child_ready_steady_ns
// (when given); without it they are left alone.
ExtractionResult decode_child_message(std::string_view message, std::string_view relative_path,
                                      std::int64_t* child_ready_steady_ns = nullptr);

}  // namespace processing
