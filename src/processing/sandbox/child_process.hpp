// Runs a helper process with posix_spawn and collects its stdout (and the
// tail of its stderr) until it exits or a deadline passes; then it is killed
// by its pid. No shell, no inherited descriptors beyond stdin (/dev/null),
// stdout and stderr. Part of the sandbox; isolated extraction starts its
// child with it.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace processing {

struct ChildRequest {
  std::filesystem::path executable;
  std::vector<std::string> arguments;  // argv[1...]
  std::chrono::milliseconds time_limit{0};
  std::size_t max_output_bytes = 0;  // stdout beyond this kills the child
};

struct ChildOutcome {
  std::string output;            // stdout
  std::string error_tail;        // the last bytes of stderr
  bool timed_out = false;        // killed at the deadline
  bool output_overflow = false;  // killed for writing too much
  bool exited = false;           // normal exit (then exit_code)
  int exit_code = 0;
  int signal = 0;  // terminating signal otherwise
};

// Throws std::system_error when the process cannot be started.
ChildOutcome run_child(const ChildRequest& request);

// "SIGSEGV" for 11, "signal 99" for unknown numbers.
std::string signal_name(int signal);

}  // namespace processing
