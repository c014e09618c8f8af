#include "processing/extraction/isolated_extraction.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <system_error>

#include "processing/extraction/extraction_errors.hpp"
#include "processing/extraction/extraction_protocol.hpp"
#include "processing/sandbox/child_process.hpp"

namespace processing {
namespace {

// Room for the result around the stored text (each character may take up to
// six bytes once escaped).
constexpr std::size_t kOutputOverheadBytes = 64u << 20;

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer reserves terabytes of address space: RLIMIT_AS would
// break it, so sanitizer builds keep only the CPU limit.
constexpr bool kAddressSpaceLimitSupported = false;
#else
constexpr bool kAddressSpaceLimitSupported = true;
#endif

std::size_t max_output_bytes(const ExtractionLimits& limits) {
  return kOutputOverheadBytes + static_cast<std::size_t>(limits.max_text_chars) * 6;
}

std::string first_line(const std::string& text) {
  const std::size_t end = text.find('\n');
  return text.substr(0, end);
}

ExtractionResult interpret(const ChildOutcome& outcome, std::string_view relative_path,
                           const ExtractionLimits& limits, std::int64_t* child_ready_ns) {
  if (outcome.timed_out) {
    throw extraction_error(ErrorKind::timeout, relative_path,
                           "the extraction did not finish within the time limit of " +
                               std::to_string(limits.time_limit.count()) +
                               " ms and its process was stopped");
  }
  if (outcome.output_overflow) {
    throw extraction_error(ErrorKind::corrupt, relative_path,
                           "the extraction process produced more output than allowed");
  }
  if (outcome.signal == SIGXCPU) {
    throw extraction_error(ErrorKind::timeout, relative_path,
                           "the extraction process used more CPU time than allowed");
  }
  if (outcome.signal != 0) {
    throw extraction_error(ErrorKind::corrupt, relative_path,
                           "the extraction process crashed with signal " +
                               signal_name(outcome.signal) + " while reading the file");
  }
  if (outcome.exit_code != 0 && outcome.output.empty()) {
    throw extraction_error(ErrorKind::extractor_unavailable, relative_path,
                           "the extraction process exited with status " +
                               std::to_string(outcome.exit_code) + " (" +
                               first_line(outcome.error_tail) + ")");
  }
  return decode_child_message(outcome.output, relative_path, child_ready_ns);
}

std::int64_t steady_ns(std::chrono::steady_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

// The sandbox's share of one extraction: from just before the spawn to the
// child's "ready" stamp, and what is left of the whole after the extraction.
void time_sandbox(ExtractionTiming& timing, std::chrono::steady_clock::time_point spawned,
                  std::int64_t child_ready_ns) {
  const std::int64_t total_us =
      (steady_ns(std::chrono::steady_clock::now()) - steady_ns(spawned)) / 1000;
  if (child_ready_ns < 0 || timing.extract_us < 0) return;
  timing.sandbox_start_us = std::max<std::int64_t>(0, (child_ready_ns - steady_ns(spawned)) / 1000);
  timing.sandbox_finish_us =
      std::max<std::int64_t>(0, total_us - timing.sandbox_start_us - timing.extract_us);
}

void set_limit(int resource, std::uint64_t value) {
  if (value == 0) return;
  rlimit limit{};
  limit.rlim_cur = static_cast<rlim_t>(value);
  limit.rlim_max = static_cast<rlim_t>(value);
  if (resource == RLIMIT_CPU) limit.rlim_max = static_cast<rlim_t>(value + 1);  // SIGXCPU first
  setrlimit(resource, &limit);
}

void apply_resource_limits(const ExtractCommand& command) {
  if (kAddressSpaceLimitSupported) set_limit(RLIMIT_AS, command.memory_limit_bytes);
  set_limit(RLIMIT_CPU, command.cpu_limit_seconds);
}

// The child ends with the worker: a worker killed mid-extraction (SIGKILL,
// OOM) must not leave extractions running that nobody reads. An orphan
// (re-parented to init before the request took effect) stops at once.
void end_with_parent() {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1) ::_exit(3);
}

int print(const std::string& message, int exit_code) {
  std::cout << message << '\n' << std::flush;
  return exit_code;
}

}  // namespace

ExtractionResult extract_file_isolated(const std::filesystem::path& worker_executable,
                                       const std::filesystem::path& storage_root,
                                       std::string_view relative_path,
                                       const ExtractionLimits& limits) {
  ChildRequest request;
  request.executable = worker_executable;
  request.arguments = extract_command_arguments(storage_root, relative_path, limits);
  request.time_limit = limits.time_limit;
  request.max_output_bytes = max_output_bytes(limits);
  ChildOutcome outcome;
  const auto spawned = std::chrono::steady_clock::now();
  try {
    outcome = run_child(request);
  } catch (const std::system_error& error) {
    throw extraction_error(
        ErrorKind::extractor_unavailable, relative_path,
        std::string("the extraction process could not be run (") + error.what() + ")");
  }
  std::int64_t child_ready_ns = -1;
  ExtractionResult result = interpret(outcome, relative_path, limits, &child_ready_ns);
  time_sandbox(result.timing, spawned, child_ready_ns);
  return result;
}

int run_extract_file_command(int argc, char** argv) {
  ExtractCommand command;
  try {
    command = parse_extract_command(argc, argv);
  } catch (const ExtractionError& error) {
    return print(failure_message(error), 2);
  }
  end_with_parent();
  apply_resource_limits(command);
  try {
    const std::int64_t ready_ns = steady_ns(std::chrono::steady_clock::now());
    const ExtractionResult result =
        extract_file(command.storage_root, command.relative_path, command.limits);
    return print(success_message(result, ready_ns), 0);
  } catch (const ExtractionError& error) {
    return print(failure_message(error), 0);
  }
}

}  // namespace processing
