#include "processing/command/command_processor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <stdexcept>
#include <utility>
#include <vector>

#include "processing/command/command_protocol.hpp"
#include "processing/sandbox/sandboxed_process.hpp"
#include "processing/sandbox/unique_fd.hpp"
#include "processing/support/utf8.hpp"

namespace processing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kReadChunkBytes = 64 * 1024;
constexpr std::size_t kStderrTailBytes = 8 * 1024;
constexpr std::size_t kLoggedLineBytes = 2000;
constexpr int kLoggedLinesPerRun = 200;
constexpr milliseconds kCancelPollPeriod{100};
constexpr int kChannelFd = 3;

// Appends the parts: GCC 12 (Release) reports a false -Wrestrict on
// "literal" + std::string&&.
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out.append(part);
  return out;
}

std::string errno_text(int error_number) {
  return std::strerror(error_number);
}

[[noreturn]] void throw_errno(int error_number, const std::string& what) {
  throw std::runtime_error(what + ": " + errno_text(error_number));
}

using Fd = UniqueFd;

std::pair<Fd, Fd> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");
  return {Fd(fds[0]), Fd(fds[1])};
}

std::pair<Fd, Fd> make_socketpair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw_errno(errno, "socketpair");
  }
  return {Fd(fds[0]), Fd(fds[1])};
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// One run: feeds stdin, collects stdout and stderr, serves fd 3, enforces the
// time limit, the bounds and cancellation, until the program is gone.
class Run {
 public:
  Run(const bullmq_worker::Job& job, bullmq_worker::JobContext& context,
      const CommandLimits& limits, const CommandProcessor::StderrSink& sink,
      SandboxedProcess& child, std::string input, Fd stdin_fd, Fd stdout_fd, Fd stderr_fd,
      Fd channel_fd)
      : job_(job),
        context_(context),
        limits_(limits),
        sink_(sink),
        child_(child),
        input_(std::move(input)),
        stdin_(std::move(stdin_fd)),
        stdout_(std::move(stdout_fd)),
        stderr_(std::move(stderr_fd)),
        channel_(std::move(channel_fd)) {
    for (const Fd* fd : {&stdin_, &stdout_, &stderr_, &channel_}) set_nonblocking(fd->get());
    facts_.timeout_ms = limits.timeout.count();
    facts_.cpu_seconds = limits.cpu_seconds;
  }

  RunFacts run() {
    const Clock::time_point started = Clock::now();
    const bool has_deadline = limits_.timeout.count() > 0;
    const Clock::time_point deadline = started + limits_.timeout;
    Clock::time_point drain_until{};
    if (input_.empty()) stdin_.reset();
    while (!exited_ || stdout_.open() || stderr_.open() || channel_.open()) {
      const Clock::time_point now = Clock::now();
      if (exited_ && now >= drain_until) break;  // a descendant that left the group holds a pipe
      if (!exited_) supervise(now, has_deadline, deadline);

      std::array<pollfd, 5> fds{{
          {stdin_.get(), POLLOUT, 0},
          {stdout_.get(), POLLIN, 0},
          {stderr_.get(), POLLIN, 0},
          {channel_.get(), static_cast<short>(POLLIN | (reply_buffer_.empty() ? 0 : POLLOUT)), 0},
          {exited_ ? -1 : child_.pidfd(), POLLIN, 0},
      }};
      const int ready = ::poll(fds.data(), fds.size(), poll_timeout(now, has_deadline, deadline));
      if (ready < 0 && errno != EINTR) throw_errno(errno, "poll");
      if (ready > 0) {
        if (fds[0].revents != 0) feed_stdin();
        if (fds[1].revents != 0) read_stdout();
        if (fds[2].revents != 0) read_stderr();
        if (fds[3].revents & (POLLIN | POLLHUP | POLLERR)) read_channel();
        if (channel_.open() && (fds[3].revents & POLLOUT)) write_channel();
      }
      if (!exited_ && (child_.pidfd() < 0 || (ready > 0 && fds[4].revents != 0)) &&
          child_.has_exited()) {
        // Whatever it left running in its group goes with it; then reap.
        child_.signal_group(SIGKILL);
        child_.reap();
        exited_ = true;
        stdin_.reset();
        drain_until = Clock::now() + limits_.kill_grace;
      }
    }
    flush_stderr_line();
    const int status = child_.status();
    if (WIFEXITED(status)) {
      facts_.exited = true;
      facts_.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      facts_.signal = WTERMSIG(status);
    }
    return std::move(facts_);
  }

  std::exception_ptr dependency_error() const { return dependency_error_; }

 private:
  // Cancellation, the time limit, and the grace after a run-ending request.
  void supervise(Clock::time_point now, bool has_deadline, Clock::time_point deadline) {
    if (terminating_) {
      if (!killed_ && now >= terminate_sent_ + limits_.kill_grace) {
        child_.signal_group(SIGKILL);
        killed_ = true;
      }
      return;
    }
    if (context_.cancelled()) {
      facts_.cancelled = true;
      terminate(now);
    } else if (has_deadline && now >= deadline) {
      facts_.timed_out = true;
      terminate(now);
    } else if (ended_ && now >= ended_at_ + limits_.kill_grace) {
      terminate(now);
    }
  }

  int poll_timeout(Clock::time_point now, bool has_deadline, Clock::time_point deadline) const {
    Clock::time_point next = now + kCancelPollPeriod;
    if (!exited_ && has_deadline && !terminating_) next = std::min(next, deadline);
    const auto left = std::chrono::ceil<milliseconds>(next - now).count();
    return static_cast<int>(std::max<long long>(left, 0));
  }

  void terminate(Clock::time_point now) {
    if (terminating_) return;
    terminating_ = true;
    terminate_sent_ = now;
    child_.signal_group(SIGTERM);
  }

  void end_run() {
    ended_ = true;
    ended_at_ = Clock::now();
  }

  void feed_stdin() {
    while (input_offset_ < input_.size()) {
      const ssize_t wrote =
          ::write(stdin_.get(), input_.data() + input_offset_, input_.size() - input_offset_);
      if (wrote < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        break;  // EPIPE: the program does not read its stdin
      }
      input_offset_ += static_cast<std::size_t>(wrote);
    }
    stdin_.reset();
  }

  // Reads what is there into `sink`; false at end of file.
  static bool read_into(int fd, std::string& sink) {
    std::array<char, kReadChunkBytes> buffer;
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0) return errno == EINTR || errno == EAGAIN;
    if (got == 0) return false;
    sink.append(buffer.data(), static_cast<std::size_t>(got));
    return true;
  }

  void overflow(std::string what) {
    if (facts_.overflow.empty()) facts_.overflow = std::move(what);
    terminate(Clock::now());
  }

  void read_stdout() {
    if (!read_into(stdout_.get(), facts_.stdout_text)) {
      stdout_.reset();
    } else if (facts_.stdout_text.size() > limits_.max_output_bytes) {
      stdout_.reset();
      overflow(cat(
          {"it wrote more than ", std::to_string(limits_.max_output_bytes), " bytes to stdout"}));
    }
  }

  void read_stderr() {
    std::string chunk;
    if (!read_into(stderr_.get(), chunk)) {
      stderr_.reset();
      return;
    }
    stderr_total_ += chunk.size();
    facts_.stderr_tail += chunk;
    if (facts_.stderr_tail.size() > kStderrTailBytes) {
      facts_.stderr_tail.erase(0, facts_.stderr_tail.size() - kStderrTailBytes);
    }
    for (char c : chunk) {
      if (c == '\n') {
        flush_stderr_line();
      } else if (stderr_line_.size() < kLoggedLineBytes) {
        stderr_line_ += c;
      }
    }
    if (stderr_total_ > limits_.max_output_bytes) {
      stderr_.reset();
      overflow(cat(
          {"it wrote more than ", std::to_string(limits_.max_output_bytes), " bytes to stderr"}));
    }
  }

  void flush_stderr_line() {
    if (!stderr_line_.empty() && stderr_line_.back() == '\r') stderr_line_.pop_back();
    if (!stderr_line_.empty() && sink_) {
      if (lines_logged_ < kLoggedLinesPerRun) {
        sink_(job_, utf8::sanitize(stderr_line_));
      } else if (lines_logged_ == kLoggedLinesPerRun) {
        sink_(job_, "(further stderr lines of this run are not logged)");
      }
      ++lines_logged_;
    }
    stderr_line_.clear();
  }

  void read_channel() {
    std::array<char, kReadChunkBytes> buffer;
    const ssize_t got = ::recv(channel_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (got <= 0) {
      channel_.reset();
      return;
    }
    request_buffer_.append(buffer.data(), static_cast<std::size_t>(got));
    std::size_t start = 0;
    for (;;) {
      const std::size_t end = request_buffer_.find('\n', start);
      if (end == std::string::npos) break;
      std::string_view line(request_buffer_.data() + start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) reply_buffer_ += handle(line);
      start = end + 1;
    }
    request_buffer_.erase(0, start);
    if (request_buffer_.size() > limits_.max_output_bytes) {
      channel_.reset();
      overflow(cat({"a request on fd 3 was longer than ", std::to_string(limits_.max_output_bytes),
                    " bytes"}));
      return;
    }
    write_channel();
  }

  void write_channel() {
    while (!reply_buffer_.empty()) {
      const ssize_t sent = ::send(channel_.get(), reply_buffer_.data(), reply_buffer_.size(),
                                  MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        reply_buffer_.clear();  // the program is gone or stopped listening
        return;
      }
      reply_buffer_.erase(0, static_cast<std::size_t>(sent));
    }
  }

  std::string handle(std::string_view line) {
    CommandRequest request;
    try {
      request = parse_request(line);
    } catch (const std::invalid_argument& e) {
      return reply_error(e.what());
    }
    if (ended_) {
      return reply_error(
          "the run has already ended (the job moved or a fail was requested): "
          "exit now");
    }
    try {
      return serve(request);
    } catch (const bullmq_worker::DependencyUnavailable& e) {
      dependency_error_ = std::current_exception();
      terminate(Clock::now());
      return reply_error(e.what());
    } catch (const std::exception& e) {
      return reply_error(e.what());
    }
  }

  std::string serve(const CommandRequest& request) {
    using bullmq_worker::DelayedError;
    using bullmq_worker::WaitingChildrenError;
    using bullmq_worker::WaitingError;
    switch (request.op) {
      case CommandOp::progress:
        context_.update_progress(request.json);
        return reply_ok();
      case CommandOp::log:
        context_.log(request.text);
        return reply_ok();
      case CommandOp::update_data:
        context_.update_data(request.json);
        return reply_ok();
      case CommandOp::delay:
        try {
          context_.move_to_delayed(milliseconds(request.ms));
        } catch (const DelayedError&) {
          return moved(CommandMove::delayed);
        }
        return reply_error("the job was not moved to delayed");
      case CommandOp::wait:
        try {
          context_.move_to_wait();
        } catch (const WaitingError&) {
          return moved(CommandMove::wait);
        }
        return reply_error("the job was not moved to wait");
      case CommandOp::waiting_children:
        try {
          context_.move_to_waiting_children();
          return reply_parked(false);
        } catch (const WaitingChildrenError&) {
          moved(CommandMove::waiting_children);
          return reply_parked(true);
        }
      case CommandOp::rate_limit:
        context_.rate_limit(milliseconds(request.ms));
        return moved(CommandMove::rate_limited);
      case CommandOp::add_job:
        return reply_job_id(context_.add_job(request.new_job));
      case CommandOp::dependencies:
        return reply_dependencies(context_.dependencies());
      case CommandOp::dependency_counts:
        return reply_counts(context_.dependency_counts());
      case CommandOp::children_values:
        return reply_map("values", context_.children_values(), true);
      case CommandOp::ignored_children_failures:
        return reply_map("failures", context_.ignored_children_failures(), false);
      case CommandOp::remove_unprocessed_children:
        context_.remove_unprocessed_children();
        return reply_ok();
      case CommandOp::fail:
        facts_.fail_message = request.text;
        facts_.fail_unrecoverable = request.unrecoverable;
        end_run();
        return reply_ok();
    }
    return reply_error("unknown op");
  }

  std::string moved(CommandMove move) {
    facts_.move = move;
    end_run();
    return reply_ok();
  }

  const bullmq_worker::Job& job_;
  bullmq_worker::JobContext& context_;
  const CommandLimits& limits_;
  const CommandProcessor::StderrSink& sink_;
  SandboxedProcess& child_;
  std::string input_;
  std::size_t input_offset_ = 0;
  Fd stdin_, stdout_, stderr_, channel_;
  std::string stderr_line_;
  std::size_t stderr_total_ = 0;
  int lines_logged_ = 0;
  std::string request_buffer_;
  std::string reply_buffer_;
  RunFacts facts_;
  std::exception_ptr dependency_error_;
  bool exited_ = false;
  bool terminating_ = false;
  bool killed_ = false;
  bool ended_ = false;
  Clock::time_point terminate_sent_{};
  Clock::time_point ended_at_{};
};

}  // namespace

CommandProcessor::CommandProcessor(CommandSpec spec, CommandLimits limits, StderrSink stderr_sink)
    : spec_(std::move(spec)), limits_(limits), stderr_sink_(std::move(stderr_sink)) {}

std::string CommandProcessor::process(const bullmq_worker::Job& job,
                                      bullmq_worker::JobContext& context) {
  std::string input = job_document(job, context.children_values());
  input += '\n';
  auto [stdin_read, stdin_write] = make_pipe();
  auto [stdout_read, stdout_write] = make_pipe();
  auto [stderr_read, stderr_write] = make_pipe();
  auto [channel_ours, channel_theirs] = make_socketpair();
  SandboxedLaunch launch;
  launch.program = spec_.program;
  launch.arguments = spec_.arguments;
  launch.environment = {cat({"BULLMQ_CHANNEL_FD=", std::to_string(kChannelFd)})};
  launch.descriptors = {stdin_read.get(), stdout_write.get(), stderr_write.get(),
                        channel_theirs.get()};
  launch.limits = {limits_.memory_bytes, limits_.cpu_seconds, limits_.open_files};
  SandboxedProcess child(launch);
  stdin_read.reset();
  stdout_write.reset();
  stderr_write.reset();
  channel_theirs.reset();

  Run run(job, context, limits_, stderr_sink_, child, std::move(input), std::move(stdin_write),
          std::move(stdout_read), std::move(stderr_read), std::move(channel_ours));
  const RunFacts facts = run.run();
  if (run.dependency_error()) std::rethrow_exception(run.dependency_error());

  Outcome outcome = decide_outcome(facts);
  switch (outcome.kind) {
    case OutcomeKind::completed:
      return std::move(outcome.text);
    case OutcomeKind::unrecoverable:
      throw bullmq_worker::UnrecoverableError(outcome.text);
    case OutcomeKind::moved:
      switch (outcome.move) {
        case CommandMove::delayed:
          throw bullmq_worker::DelayedError();
        case CommandMove::wait:
          throw bullmq_worker::WaitingError();
        case CommandMove::waiting_children:
          throw bullmq_worker::WaitingChildrenError();
        case CommandMove::rate_limited:
          throw bullmq_worker::RateLimitError();
        case CommandMove::none:
          break;
      }
      break;
    case OutcomeKind::failed:
    case OutcomeKind::cancelled:
      break;
  }
  throw std::runtime_error(outcome.text);
}

}  // namespace processing
