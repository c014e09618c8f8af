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
#include <mutex>
#include <optional>
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
  if (command.serve_documents == 0) {
    set_limit(RLIMIT_CPU, command.cpu_limit_seconds);
  } else if (command.cpu_limit_seconds > 0) {
    // A serving child: a hard limit for all the documents it may take (it
    // cannot raise it), and a soft one per document (allow_cpu_for_next).
    rlimit limit{};
    limit.rlim_cur = static_cast<rlim_t>(command.cpu_limit_seconds);
    limit.rlim_max = static_cast<rlim_t>(command.cpu_limit_seconds * command.serve_documents + 1);
    setrlimit(RLIMIT_CPU, &limit);
  }
}

// A serving child's CPU allowance for its next document: what it used so far
// plus the per-document limit (SIGXCPU past it), below the hard limit.
void allow_cpu_for_next(std::uint64_t seconds) {
  if (seconds == 0) return;
  rusage usage{};
  rlimit limit{};
  if (getrusage(RUSAGE_SELF, &usage) != 0 || getrlimit(RLIMIT_CPU, &limit) != 0) return;
  const auto used = static_cast<std::uint64_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1);
  limit.rlim_cur = std::min<rlim_t>(static_cast<rlim_t>(used + seconds), limit.rlim_max);
  setrlimit(RLIMIT_CPU, &limit);
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

// `extract-file --serve N`: up to N documents, one request line each, one
// message line back each; ends at end of input.
int serve(const ExtractCommand& command) {
  std::string line;
  for (std::uint64_t served = 0; served < command.serve_documents && std::getline(std::cin, line);
       ++served) {
    const std::optional<std::string> relative_path = parse_serve_request(line);
    if (!relative_path) {
      print(failure_message(
                extraction_error(ErrorKind::invalid_input, "", "the request is not a JSON string")),
            0);
      continue;
    }
    allow_cpu_for_next(command.cpu_limit_seconds);
    try {
      const std::int64_t ready_ns = steady_ns(std::chrono::steady_clock::now());
      const ExtractionResult result =
          extract_file(command.storage_root, *relative_path, command.limits);
      print(success_message(result, ready_ns), 0);
    } catch (const ExtractionError& error) {
      print(failure_message(error), 0);
    }
  }
  return 0;
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

// ---------------------------------------------------------------- ExtractorPool

struct ExtractorPool::Child {
  std::unique_ptr<LineChild> process;
  std::string key;  // the arguments it was started with
  std::size_t served = 0;
};

ExtractorPool::ExtractorPool(std::filesystem::path worker_executable,
                             std::size_t documents_per_child)
    : worker_executable_(std::move(worker_executable)),
      documents_per_child_(std::max<std::size_t>(documents_per_child, 1)) {}

ExtractorPool::~ExtractorPool() = default;  // each LineChild is killed and reaped

std::unique_ptr<ExtractorPool::Child> ExtractorPool::take(const std::vector<std::string>& arguments,
                                                          std::string_view relative_path,
                                                          const ExtractionLimits& limits) {
  std::string key;
  for (const std::string& argument : arguments) key.append(argument).push_back('\0');
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if ((*it)->key != key) continue;
      std::unique_ptr<Child> child = std::move(*it);
      idle_.erase(it);
      // One that died while idle (e.g. PR_SET_PDEATHSIG: its spawning thread
      // ended) is dropped here, not blamed on the next document.
      if (child->process->alive()) return child;
      break;
    }
  }
  ChildRequest request;
  request.executable = worker_executable_;
  request.arguments = arguments;
  request.max_output_bytes = max_output_bytes(limits);
  auto child = std::make_unique<Child>();
  child->key = std::move(key);
  try {
    child->process = std::make_unique<LineChild>(request);
    ++started_;
  } catch (const std::system_error& error) {
    throw extraction_error(
        ErrorKind::extractor_unavailable, relative_path,
        std::string("the extraction process could not be run (") + error.what() + ")");
  }
  return child;
}

void ExtractorPool::give_back(std::unique_ptr<Child> child) {
  if (child->served >= documents_per_child_ || child->process->finished()) return;
  const std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(child));
}

ExtractionResult ExtractorPool::extract(const std::filesystem::path& storage_root,
                                        std::string_view relative_path,
                                        const ExtractionLimits& limits) {
  const auto started = std::chrono::steady_clock::now();
  std::unique_ptr<Child> child = take(
      extract_server_arguments(storage_root, limits, documents_per_child_), relative_path, limits);
  const auto time_limit =
      limits.time_limit.count() < 0 ? std::chrono::milliseconds(0) : limits.time_limit;
  LineAnswer answer = child->process->exchange(serve_request(relative_path), started + time_limit);
  if (!answer.line) return interpret(answer.ended, relative_path, limits, nullptr);
  ++child->served;
  std::int64_t child_ready_ns = -1;
  ExtractionResult result;
  try {
    result = decode_child_message(*answer.line, relative_path, &child_ready_ns);
  } catch (const ExtractionError& error) {
    // The document's own error leaves the child fit for the next one; an
    // unreadable answer does not.
    if (error.error_type() != error_type_name(ErrorKind::extractor_unavailable)) {
      give_back(std::move(child));
    }
    throw;
  }
  give_back(std::move(child));
  time_sandbox(result.timing, started, child_ready_ns);
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
  if (command.serve_documents > 0) return serve(command);
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
