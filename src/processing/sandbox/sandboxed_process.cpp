#include "processing/sandbox/sandboxed_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>

extern char** environ;

namespace processing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxDescriptors = 8;

std::string describe_errno(std::string_view what, std::string_view program, int error_number) {
  std::string message(what);
  message.append(program);
  message.append(": ");
  message.append(std::strerror(error_number));
  return message;
}

// Everything execve needs, built before fork (the child may not allocate).
struct ExecImage {
  std::vector<std::string> argument_storage;
  std::vector<std::string> environment_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::array<int, kMaxDescriptors> descriptors{};
  std::size_t descriptor_count = 0;
  SandboxLimits limits;

  explicit ExecImage(const SandboxedLaunch& launch) : limits(launch.limits) {
    if (launch.descriptors.size() > kMaxDescriptors) {
      throw std::invalid_argument("a sandboxed program gets at most 8 descriptors");
    }
    std::copy(launch.descriptors.begin(), launch.descriptors.end(), descriptors.begin());
    descriptor_count = launch.descriptors.size();
    argument_storage.push_back(launch.program);
    argument_storage.insert(argument_storage.end(), launch.arguments.begin(),
                            launch.arguments.end());
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
      const std::string_view variable(*entry);
      const std::string_view name = variable.substr(0, variable.find('=') + 1);
      const bool replaced = std::any_of(
          launch.environment.begin(), launch.environment.end(),
          [&](const std::string& given) { return std::string_view(given).starts_with(name); });
      if (!replaced) environment_storage.emplace_back(variable);
    }
    environment_storage.insert(environment_storage.end(), launch.environment.begin(),
                               launch.environment.end());
    for (std::string& argument : argument_storage) argv.push_back(argument.data());
    argv.push_back(nullptr);
    for (std::string& variable : environment_storage) envp.push_back(variable.data());
    envp.push_back(nullptr);
  }
};

// Lowers a limit to `soft` (and `hard`), never above the current hard limit.
void lower_limit(int resource, std::uint64_t soft, std::uint64_t hard) {
  rlimit current{};
  if (::getrlimit(resource, &current) != 0) return;
  rlimit wanted{};
  wanted.rlim_max = std::min<rlim_t>(static_cast<rlim_t>(hard), current.rlim_max);
  wanted.rlim_cur = std::min<rlim_t>(static_cast<rlim_t>(soft), wanted.rlim_max);
  ::setrlimit(resource, &wanted);
}

[[noreturn]] void fail_in_child(int report) {
  const int error_number = errno;
  [[maybe_unused]] ssize_t ignored = ::write(report, &error_number, sizeof error_number);
  ::_exit(127);
}

// Between fork and execve: async-signal-safe calls only.
[[noreturn]] void exec_in_child(ExecImage& image, pid_t parent, int report) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int signal = 1; signal < NSIG; ++signal) {
    if (signal != SIGKILL && signal != SIGSTOP) ::sigaction(signal, &default_action, nullptr);
  }
  // Everything above the targets first, so that no dup2 overwrites a source.
  const int first_free = static_cast<int>(kMaxDescriptors) + 2;
  report = ::fcntl(report, F_DUPFD_CLOEXEC, first_free);
  if (report < 0) ::_exit(127);
  for (std::size_t i = 0; i < image.descriptor_count; ++i) {
    image.descriptors[i] = ::fcntl(image.descriptors[i], F_DUPFD_CLOEXEC, first_free);
    if (image.descriptors[i] < 0) fail_in_child(report);
  }
  for (std::size_t target = 0; target < image.descriptor_count; ++target) {
    if (::dup2(image.descriptors[target], static_cast<int>(target)) < 0) fail_in_child(report);
  }
  const auto first_closed = static_cast<unsigned>(image.descriptor_count);
  const auto kept = static_cast<unsigned>(report);
  if (::close_range(first_closed, kept - 1, 0) != 0 || ::close_range(kept + 1, ~0U, 0) != 0) {
    for (int fd = static_cast<int>(first_closed); fd < 65536; ++fd) {
      if (fd != report) ::close(fd);
    }
  }
  const SandboxLimits& limits = image.limits;
  // Set after fork, right before exec: the program, not this (possibly
  // ASan-instrumented) process, lives under it.
  if (limits.memory_bytes > 0) {
    lower_limit(RLIMIT_AS, limits.memory_bytes, limits.memory_bytes);
  }
  if (limits.cpu_seconds > 0) lower_limit(RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1);
  if (limits.open_files > 0) lower_limit(RLIMIT_NOFILE, limits.open_files, limits.open_files);
  ::execve(image.argv.front(), image.argv.data(), image.envp.data());
  fail_in_child(report);
}

// The process groups of the programs running now, for stop_sandboxed_processes.
struct RunningGroups {
  std::mutex mutex;
  std::condition_variable changed;
  std::set<pid_t> groups;

  void add(pid_t group) {
    std::lock_guard lock(mutex);
    groups.insert(group);
  }
  void remove(pid_t group) {
    {
      std::lock_guard lock(mutex);
      groups.erase(group);
    }
    changed.notify_all();
  }
  void signal_all(int signal) {
    std::lock_guard lock(mutex);
    for (pid_t group : groups) ::kill(-group, signal);
  }
  bool wait_empty(Clock::time_point until) {
    std::unique_lock lock(mutex);
    return changed.wait_until(lock, until, [this] { return groups.empty(); });
  }
};

RunningGroups& running_groups() {
  static RunningGroups* groups = new RunningGroups();  // never destroyed: used until _exit
  return *groups;
}

}  // namespace

SandboxedProcess::SandboxedProcess(const SandboxedLaunch& launch) {
  ExecImage image(launch);
  int report_pipe[2];
  if (::pipe2(report_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(describe_errno("cannot start ", launch.program, errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) exec_in_child(image, parent, report_pipe[1]);
  const int fork_error = errno;
  ::close(report_pipe[1]);
  if (pid < 0) {
    ::close(report_pipe[0]);
    throw std::runtime_error(describe_errno("cannot start (fork) ", launch.program, fork_error));
  }
  ::setpgid(pid, pid);  // also done by the child: whichever runs first
  int error_number = 0;
  ssize_t got = 0;
  do {
    got = ::read(report_pipe[0], &error_number, sizeof error_number);
  } while (got < 0 && errno == EINTR);
  ::close(report_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof error_number)) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    throw std::runtime_error(describe_errno("cannot start ", launch.program, error_number));
  }
  pid_ = pid;
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  running_groups().add(pid_);
}

SandboxedProcess::~SandboxedProcess() {
  if (!reaped_) {
    signal_group(SIGKILL);
    reap();
  }
  if (pidfd_ >= 0) ::close(pidfd_);
}

bool SandboxedProcess::has_exited() const {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return true;
  }
  return info.si_pid == pid_;
}

void SandboxedProcess::signal_group(int signal) const {
  if (!reaped_ && ::kill(-pid_, signal) != 0) ::kill(pid_, signal);
}

void SandboxedProcess::reap() {
  if (reaped_) return;
  while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  running_groups().remove(pid_);
}

void stop_sandboxed_processes(std::chrono::milliseconds grace) {
  RunningGroups& groups = running_groups();
  groups.signal_all(SIGTERM);
  if (groups.wait_empty(Clock::now() + grace)) return;
  groups.signal_all(SIGKILL);
  groups.wait_empty(Clock::now() + std::chrono::milliseconds(500));
}

}  // namespace processing
