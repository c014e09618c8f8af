#include "processing/sandbox/child_process.hpp"
#include "processing/sandbox/unique_fd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <utility>

extern char** environ;

namespace processing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kErrorTailBytes = 4096;
constexpr std::size_t kReadChunkBytes = 64 * 1024;

[[noreturn]] void throw_errno(int error_number, const std::string& what) {
  throw std::system_error(error_number, std::generic_category(), what);
}

using Fd = UniqueFd;

struct Pipe {
  Fd read_end;
  Fd write_end;
};

Pipe open_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

class SpawnActions {
 public:
  SpawnActions() { posix_spawn_file_actions_init(&actions_); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class SpawnAttributes {
 public:
  SpawnAttributes() { posix_spawnattr_init(&attributes_); }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attributes_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawnattr_t* get() { return &attributes_; }

 private:
  posix_spawnattr_t attributes_;
};

// stdin from `input` (or /dev/null when it is -1), stdout and stderr into the
// pipes, nothing else open.
void prepare_descriptors(SpawnActions& actions, const Pipe& output, const Pipe& errors, int input) {
  if (input >= 0) {
    posix_spawn_file_actions_adddup2(actions.get(), input, STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(actions.get(), output.write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(actions.get(), errors.write_end.get(), STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(actions.get(), STDERR_FILENO + 1);
}

// No blocked signals, default dispositions for the ones that end a process
// (the worker may ignore SIGPIPE or block signals in its threads).
void prepare_signals(SpawnAttributes& attributes) {
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(attributes.get(), &empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int signal : {SIGPIPE, SIGXCPU, SIGSEGV, SIGBUS, SIGABRT, SIGTERM, SIGINT, SIGHUP}) {
    sigaddset(&defaults, signal);
  }
  posix_spawnattr_setsigdefault(attributes.get(), &defaults);
  posix_spawnattr_setflags(attributes.get(), POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
}

pid_t spawn(const ChildRequest& request, const Pipe& output, const Pipe& errors, int input = -1) {
  SpawnActions actions;
  prepare_descriptors(actions, output, errors, input);
  SpawnAttributes attributes;
  prepare_signals(attributes);
  std::vector<std::string> argv_storage;
  argv_storage.push_back(request.executable.string());
  argv_storage.insert(argv_storage.end(), request.arguments.begin(), request.arguments.end());
  std::vector<char*> argv;
  for (std::string& argument : argv_storage) argv.push_back(argument.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, argv_storage.front().c_str(), actions.get(), attributes.get(),
                                argv.data(), environ);
  if (error != 0) throw_errno(error, "cannot start " + request.executable.string());
  return pid;
}

// A descriptor that polls readable once the process exits (-1 when the
// kernel lacks pidfd_open). Called through syscall(): glibc 2.36's
// <sys/pidfd.h> lacks C linkage for C++.
int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// Owns a started child: kills and reaps it unless it was reaped already, so
// no exception path leaves a running process or a zombie behind.
class ChildHandle {
 public:
  explicit ChildHandle(pid_t pid) : pid_(pid), pidfd_(open_pidfd(pid)) {}
  ~ChildHandle() {
    if (!reaped_) {
      kill();
      wait();
    }
  }
  ChildHandle(const ChildHandle&) = delete;
  ChildHandle& operator=(const ChildHandle&) = delete;

  int pidfd() const { return pidfd_.get(); }
  pid_t pid() const { return pid_; }
  bool reaped() const { return reaped_; }
  void kill() const { ::kill(pid_, SIGKILL); }
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_;
  Fd pidfd_;  // -1 when pidfd_open is unavailable
  bool reaped_ = false;
};

int milliseconds_until(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 60'000));
}

// Reads what is available; false at end of file.
bool drain(int fd, std::string& sink) {
  std::array<char, kReadChunkBytes> buffer;
  const ssize_t got = ::read(fd, buffer.data(), buffer.size());
  if (got < 0) return errno == EINTR || errno == EAGAIN;
  if (got == 0) return false;
  sink.append(buffer.data(), static_cast<std::size_t>(got));
  return true;
}

class OutputCollector {
 public:
  OutputCollector(const ChildRequest& request, Pipe& output, Pipe& errors, ChildHandle& child)
      : request_(request), output_(output), errors_(errors), child_(child) {}

  // Collects until both pipes are closed and the child has exited, or the
  // deadline / output limit stops it.
  void collect(ChildOutcome& outcome, Clock::time_point deadline) {
    bool output_open = true;
    bool errors_open = true;
    bool exited = child_.pidfd() < 0;  // without a pidfd, wait after EOF
    while (output_open || errors_open || !exited) {
      if (Clock::now() >= deadline) {
        outcome.timed_out = true;
        return;
      }
      std::array<pollfd, 3> fds{{{output_open ? output_.read_end.get() : -1, POLLIN, 0},
                                 {errors_open ? errors_.read_end.get() : -1, POLLIN, 0},
                                 {exited ? -1 : child_.pidfd(), POLLIN, 0}}};
      const int ready = ::poll(fds.data(), fds.size(), milliseconds_until(deadline));
      if (ready < 0 && errno != EINTR) throw_errno(errno, "poll");
      if (ready <= 0) continue;
      if (fds[0].revents != 0) output_open = drain(fds[0].fd, outcome.output);
      if (fds[1].revents != 0) errors_open = drain(fds[1].fd, outcome.error_tail);
      if (fds[2].revents != 0) exited = true;
      keep_error_tail(outcome.error_tail);
      if (outcome.output.size() > request_.max_output_bytes) {
        outcome.output_overflow = true;
        return;
      }
    }
  }

 private:
  static void keep_error_tail(std::string& tail) {
    if (tail.size() > kErrorTailBytes) tail.erase(0, tail.size() - kErrorTailBytes);
  }

  const ChildRequest& request_;
  Pipe& output_;
  Pipe& errors_;
  ChildHandle& child_;
};

void record_status(int status, ChildOutcome& outcome) {
  if (WIFEXITED(status)) {
    outcome.exited = true;
    outcome.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    outcome.signal = WTERMSIG(status);
  }
}

}  // namespace

// ---------------------------------------------------------------- LineChild

struct LineChild::State {
  Fd input;  // our end of the child's stdin (a socket: send() without SIGPIPE)
  Pipe output;
  Pipe errors;
  std::unique_ptr<ChildHandle> child;
  std::string pending;  // stdout read past the last answer line
  std::string error_tail;
  bool output_open = true;
  bool errors_open = true;
};

LineChild::LineChild(const ChildRequest& request)
    : state_(std::make_unique<State>()), max_line_bytes_(request.max_output_bytes) {
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
    throw_errno(errno, "socketpair");
  }
  Fd ours(sockets[0]);
  Fd theirs(sockets[1]);
  state_->output = open_pipe();
  state_->errors = open_pipe();
  state_->child =
      std::make_unique<ChildHandle>(spawn(request, state_->output, state_->errors, theirs.get()));
  state_->input = std::move(ours);
  state_->output.write_end.reset();
  state_->errors.write_end.reset();
}

LineChild::~LineChild() = default;  // ChildHandle kills and reaps unless reaped

pid_t LineChild::pid() const {
  return state_->child ? state_->child->pid() : -1;
}

LineAnswer LineChild::exchange(std::string_view line, Clock::time_point deadline) {
  LineAnswer answer;
  State& s = *state_;
  if (s.child->reaped()) return answer;  // finished earlier: nothing to ask (ended is empty)
  std::string message(line);
  message.push_back('\n');
  // Requests are short; a child that stopped reading is a dead child.
  std::size_t sent = 0;
  while (sent < message.size()) {
    const ssize_t n =
        ::send(s.input.get(), message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    sent += static_cast<std::size_t>(n);
  }
  bool exited = false;
  for (;;) {
    if (const std::size_t end = s.pending.find('\n'); end != std::string::npos) {
      answer.line = s.pending.substr(0, end);
      s.pending.erase(0, end + 1);
      return answer;
    }
    if (s.pending.size() > max_line_bytes_) {
      answer.output_overflow = true;
      break;
    }
    if (!s.output_open) break;  // the child closed its stdout: it ended without an answer
    if (Clock::now() >= deadline) {
      answer.timed_out = true;
      break;
    }
    std::array<pollfd, 3> fds{{{s.output_open ? s.output.read_end.get() : -1, POLLIN, 0},
                               {s.errors_open ? s.errors.read_end.get() : -1, POLLIN, 0},
                               {exited ? -1 : s.child->pidfd(), POLLIN, 0}}};
    const int ready = ::poll(fds.data(), fds.size(), milliseconds_until(deadline));
    if (ready < 0 && errno != EINTR) throw_errno(errno, "poll");
    if (ready <= 0) continue;
    if (fds[0].revents != 0) s.output_open = drain(fds[0].fd, s.pending);
    if (fds[1].revents != 0) s.errors_open = drain(fds[1].fd, s.error_tail);
    if (fds[2].revents != 0) exited = true;
    if (s.error_tail.size() > kErrorTailBytes) {
      s.error_tail.erase(0, s.error_tail.size() - kErrorTailBytes);
    }
  }
  // No answer: the child is finished either way.
  if (answer.timed_out || answer.output_overflow) s.child->kill();
  answer.ended.output = std::move(s.pending);
  answer.ended.error_tail = s.error_tail;
  answer.ended.timed_out = answer.timed_out;
  answer.ended.output_overflow = answer.output_overflow;
  record_status(s.child->wait(), answer.ended);
  return answer;
}

bool LineChild::finished() const {
  return state_->child->reaped();
}

bool LineChild::alive() {
  ChildHandle& child = *state_->child;
  if (child.reaped()) return false;
  if (child.pidfd() < 0) return true;
  pollfd fd{child.pidfd(), POLLIN, 0};
  if (::poll(&fd, 1, 0) <= 0) return true;
  child.wait();
  return false;
}

std::string signal_name(int signal) {
  const char* abbreviation = sigabbrev_np(signal);
  if (abbreviation == nullptr) return "signal " + std::to_string(signal);
  return std::string("SIG") + abbreviation;
}

ChildOutcome run_child(const ChildRequest& request) {
  const Clock::time_point deadline = Clock::now() + request.time_limit;
  Pipe output = open_pipe();
  Pipe errors = open_pipe();
  ChildHandle child(spawn(request, output, errors));
  output.write_end.reset();
  errors.write_end.reset();

  ChildOutcome outcome;
  OutputCollector(request, output, errors, child).collect(outcome, deadline);
  if (outcome.timed_out || outcome.output_overflow) child.kill();
  record_status(child.wait(), outcome);
  return outcome;
}

}  // namespace processing
