// `--command NAME=PROGRAM [ARGS…]`: which program runs the jobs of one name,
// and the limits every command runs under. Parsing and checking only, no
// process is started here (command_processor does that). The words are split
// like a shell would split them (quotes and backslashes), but nothing is
// expanded and no shell ever runs. Owned by the command processors.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace processing {

struct CommandSpec {
  std::string job_name;
  std::string program;                 // as given; absolute once resolved
  std::vector<std::string> arguments;  // argv[1…]
};

// The sandbox of every command run (flags --command-*). Zero means "no limit"
// for all but max_output_bytes and kill_grace.
struct CommandLimits {
  std::chrono::milliseconds timeout{3'600'000};  // wall clock, per run
  std::uint64_t memory_bytes = 0;                // RLIMIT_AS
  std::uint64_t cpu_seconds = 0;                 // RLIMIT_CPU (SIGXCPU, then SIGKILL)
  std::uint64_t open_files = 0;                  // RLIMIT_NOFILE
  std::size_t max_output_bytes = 16u << 20;      // stdout, stderr and one request line, each
  std::chrono::milliseconds kill_grace{3000};    // SIGTERM … SIGKILL
};

// Splits `text` into words: blanks separate words; '…' keeps everything
// literally; "…" keeps everything but lets \" \\ \$ \` escape; a backslash
// outside quotes keeps the next character. Throws std::invalid_argument on
// an unterminated quote or a trailing backslash.
std::vector<std::string> split_words(std::string_view text);

// Parses "NAME=PROGRAM [ARGS…]" (the first word holds NAME and PROGRAM).
// Throws std::invalid_argument naming what is wrong.
CommandSpec parse_command_spec(std::string_view text);

// BULLMQ_COMMANDS: one command per line; blank lines and lines starting with
// '#' are skipped.
std::vector<std::string> split_command_lines(std::string_view text);

// The program as execve will run it: a name without '/' is looked up in
// `search_path` (PATH's syntax), a path is taken as it is (relative to the
// working directory). Throws std::invalid_argument when it is missing, not a
// regular file, or not executable.
std::string resolve_program(const std::string& program, std::string_view search_path);

// "16777216", "512K", "64M", "2G" (powers of 1024) -> bytes. Throws
// std::invalid_argument.
std::uint64_t parse_byte_size(std::string_view text);

}  // namespace processing
