// bullmq-worker processor SDK: the exceptions through which a processor tells
// the worker how a job ended when it did not return a value. Their names and
// meanings are those of BullMQ's Node errors.
//
// Thread-safety: plain exception values.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace bullmq_worker {

// Fails the job now, whatever attempts it has left (Node's UnrecoverableError).
class UnrecoverableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A service the processor needs (a database, the storage, Redis) cannot be
// reached. Not the job's fault: the job goes back to delayed without spending
// an attempt, and the worker stops claiming until the check registered under
// `dependency` (PluginSetup::add_dependency) passes again.
class DependencyUnavailable : public std::runtime_error {
 public:
  DependencyUnavailable(std::string dependency, const std::string& message)
      : std::runtime_error(message), dependency_(std::move(dependency)) {}
  const std::string& dependency() const { return dependency_; }

 private:
  std::string dependency_;
};

// The queue is rate limited (see JobContext::rate_limit): the job goes back to
// wait without spending an attempt (Node's RateLimitError).
class RateLimitError : public std::runtime_error {
 public:
  RateLimitError() : std::runtime_error("rate limit exceeded") {}
};

// Thrown by JobContext calls that already moved the job elsewhere; the worker
// only stops tracking it. A processor lets them through.
class DelayedError : public std::runtime_error {  // JobContext::move_to_delayed
 public:
  DelayedError() : std::runtime_error("job moved to delayed") {}
};
class WaitingChildrenError : public std::runtime_error {  // JobContext::move_to_waiting_children
 public:
  WaitingChildrenError() : std::runtime_error("job moved to waiting-children") {}
};
class WaitingError : public std::runtime_error {  // JobContext::move_to_wait
 public:
  WaitingError() : std::runtime_error("job moved back to wait") {}
};

}  // namespace bullmq_worker
