// The contract between the worker and the code that does a job's work.
//
// A Processor is registered for one job name and called on a processing
// thread (never the I/O thread) with the claimed Job and a JobContext. It
// returns the job's return value as JSON text, or throws:
//   - UnrecoverableError: fail now, no retries (bad data, permanent errors);
//   - DependencyUnavailable: a service the processor needs (a database, the
//     storage, Redis itself) cannot be reached. Not the job's fault: the job
//     goes back to delayed without spending an attempt, and the worker stops
//     claiming until the dependency's check (ProcessorRegistry::
//     add_dependency) passes again;
//   - any other std::exception: a failed attempt; `attempts`/`backoff` apply;
//   - DelayedError / WaitingChildrenError: thrown by JobContext methods that
//     already moved the job; the worker just stops tracking it.
// Processors must be thread-safe: several jobs may run at once.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include "bullmq/job.hpp"

namespace bullmq {

// Fails the job at once, whatever its attempts (Node's UnrecoverableError).
class UnrecoverableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A dependency of the processor is down (see the file comment). `dependency`
// names it as registered with ProcessorRegistry::add_dependency
// ("postgresql", "storage"); the message says what failed.
class DependencyUnavailable : public std::runtime_error {
 public:
  DependencyUnavailable(std::string dependency, const std::string& message)
      : std::runtime_error(message), dependency_(std::move(dependency)) {}
  const std::string& dependency() const { return dependency_; }

 private:
  std::string dependency_;
};

// Checks that a dependency answers: returns an empty string when it does,
// else what is wrong. Blocking; the worker calls it on a processing thread.
using DependencyCheck = std::function<std::string()>;

// Thrown after the job was moved back to delayed; not a failed attempt.
class DelayedError : public std::runtime_error {
 public:
  DelayedError() : std::runtime_error("job moved to delayed") {}
};

// Thrown after a parent job was parked until its children finish.
class WaitingChildrenError : public std::runtime_error {
 public:
  WaitingChildrenError() : std::runtime_error("job moved to waiting-children") {}
};

// What a running processor may do with its job. Methods block the calling
// processing thread until Redis answered; they throw std::runtime_error when
// the job is gone or Redis is unreachable (which fails the attempt unless the
// processor catches it). One context per running job, owned by the worker.
class JobContext {
 public:
  virtual ~JobContext() = default;

  // Sets the job's progress: a JSON number or object (text).
  virtual void update_progress(std::string_view json) = 0;
  // Appends one row to the job log (honours the job's keepLogs).
  virtual void log(std::string_view line) = 0;
  // Replaces the job's data (JSON text).
  virtual void update_data(std::string_view json) = 0;
  // Moves the job back to delayed for `delay`; does not count an attempt.
  // Always throws DelayedError afterwards, which the processor lets through.
  [[noreturn]] virtual void move_to_delayed(std::chrono::milliseconds delay) = 0;
  // Parks a flow parent until its children are done. Returns normally when no
  // child is pending (the processor goes on); throws WaitingChildrenError
  // when the job was parked.
  virtual void move_to_waiting_children() = 0;
  // Children's return values: full child key -> return value JSON text.
  virtual std::map<std::string, std::string> children_values() = 0;
  // Children that failed with ignoreDependencyOnFailure (or
  // continueParentOnFailure): full child key -> failed reason.
  virtual std::map<std::string, std::string> ignored_children_failures() = 0;

  // True once the job should stop: its lock was lost or the worker's shutdown
  // deadline passed. Processors check it between steps.
  virtual bool cancelled() const = 0;
  // Sleeps up to `duration`; returns false early if the job is cancelled.
  virtual bool sleep_for(std::chrono::milliseconds duration) = 0;
};

class Processor {
 public:
  virtual ~Processor() = default;
  // Does the job's work; see the file comment for outcomes.
  virtual std::string process(const Job& job, JobContext& context) = 0;
  // True for processors that finish in microseconds and never block nor call
  // the JobContext (a lookup, a transformation of the data): the worker then
  // runs them on the I/O thread and saves two thread hand-offs per job.
  // Anything that sleeps, does I/O, or uses the context must return false.
  virtual bool runs_inline() const { return false; }
};

// Job name -> processor. Filled before the worker starts, read-only after.
class ProcessorRegistry {
 public:
  void add(std::string job_name, std::shared_ptr<Processor> processor) {
    processors_[std::move(job_name)] = std::move(processor);
  }
  // Null when no processor has that name.
  Processor* find(const std::string& job_name) const {
    auto it = processors_.find(job_name);
    return it == processors_.end() ? nullptr : it->second.get();
  }
  // Used when no processor matches: unknown names fail as unrecoverable
  // unless a fallback is set.
  void set_fallback(std::shared_ptr<Processor> processor) { fallback_ = std::move(processor); }
  Processor* fallback() const { return fallback_.get(); }

  // A dependency the processors may report as unavailable, with the check
  // that tells when it answers again (also run by the readiness probe).
  void add_dependency(std::string name, DependencyCheck check) {
    dependencies_[std::move(name)] = std::move(check);
  }
  // Name -> check; a name reported without a registered check is retried
  // after a back-off instead.
  const std::map<std::string, DependencyCheck>& dependencies() const { return dependencies_; }

 private:
  std::map<std::string, DependencyCheck> dependencies_;
  std::unordered_map<std::string, std::shared_ptr<Processor>> processors_;
  std::shared_ptr<Processor> fallback_;
};

}  // namespace bullmq
