// A program started in the sandbox: its own process group, resource limits
// set between fork and exec (so they hold from its first instruction), the
// signal mask and dispositions reset, exactly the descriptors it is given,
// and death with the worker (PR_SET_PDEATHSIG). The SandboxedProcess owns
// the child: it is killed with its group and reaped on every path out.
// Owned by the sandbox; used by the command processors.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace processing {

struct SandboxLimits {
  std::uint64_t memory_bytes = 0;  // RLIMIT_AS (left alone under AddressSanitizer); 0 = none
  std::uint64_t cpu_seconds = 0;   // RLIMIT_CPU: SIGXCPU, then SIGKILL a second later; 0 = none
  std::uint64_t open_files = 0;    // RLIMIT_NOFILE; 0 = inherited
};

struct SandboxedLaunch {
  std::string program;                   // for execve: a path, no PATH lookup
  std::vector<std::string> arguments;    // argv[1…]
  std::vector<std::string> environment;  // NAME=VALUE over the worker's environment
  std::vector<int> descriptors;          // become fds 0, 1, 2, … (at most 8); the rest are closed
  SandboxLimits limits;
};

class SandboxedProcess {
 public:
  // Throws std::runtime_error naming the program when it cannot be started
  // (fork fails, or execve does: missing, not executable, …).
  explicit SandboxedProcess(const SandboxedLaunch& launch);
  ~SandboxedProcess();  // SIGKILL to the group and reap, unless reaped
  SandboxedProcess(const SandboxedProcess&) = delete;
  SandboxedProcess& operator=(const SandboxedProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Polls readable once the program exits; -1 when the kernel lacks pidfd_open.
  int pidfd() const { return pidfd_; }
  // True once the program has exited; it stays a zombie (its process group
  // id reserved) until reap().
  bool has_exited() const;
  // To the whole process group (to the program alone if that fails).
  void signal_group(int signal) const;
  // Waits for the program; then status() is its waitpid status.
  void reap();
  bool reaped() const { return reaped_; }
  int status() const { return status_; }

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// For a worker about to exit while sandboxed programs still run (its
// shutdown deadline passed): SIGTERM to every one's process group, SIGKILL
// to those still there after `grace`. Returns once they were reaped (or
// 500 ms after the SIGKILL).
void stop_sandboxed_processes(std::chrono::milliseconds grace);

}  // namespace processing
