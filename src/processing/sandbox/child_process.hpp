// Runs a helper process with posix_spawn and collects its stdout (and the
// tail of its stderr) until it exits or a deadline passes; then it is killed
// by its pid. Or keeps one running for several request/answer lines
// (LineChild). No shell, no inherited descriptors beyond stdin (/dev/null,
// or the LineChild's request socket), stdout and stderr. Part of the sandbox;
// isolated extraction starts its children with it.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

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

// What one exchange with a LineChild gave: the answer line, or (line empty)
// how the child ended, in `ended` (it is then reaped: killed first when it
// timed out or overflowed).
struct LineAnswer {
  std::optional<std::string> line;
  bool timed_out = false;
  bool output_overflow = false;
  ChildOutcome ended;
};

// A helper process that stays, for several requests: one line to its stdin
// (a socket, so a dead reader costs no SIGPIPE), one line back on its stdout;
// the tail of its stderr is kept. Started like run_child's (posix_spawn,
// nothing inherited but stdin, stdout and stderr); killed and reaped when
// destroyed, unless it ended already. One exchange at a time.
class LineChild {
 public:
  using Clock = std::chrono::steady_clock;
  // request.max_output_bytes bounds one answer line; time_limit is unused
  // (each exchange has its deadline). Throws std::system_error when the
  // process cannot be started.
  explicit LineChild(const ChildRequest& request);
  ~LineChild();
  LineChild(const LineChild&) = delete;
  LineChild& operator=(const LineChild&) = delete;

  // Sends `line` (without its newline) and waits for one answer line until
  // `deadline`; a timeout, an overflow or the child's end finishes it.
  LineAnswer exchange(std::string_view line, Clock::time_point deadline);
  // True once an exchange found the child finished (it is reaped then).
  bool finished() const;
  // False when the child has exited meanwhile (it is reaped then); true when
  // it is running, or when the kernel cannot tell (no pidfd).
  bool alive();
  pid_t pid() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::size_t max_line_bytes_;
};

// "SIGSEGV" for 11, "signal 99" for unknown numbers.
std::string signal_name(int signal);

}  // namespace processing
