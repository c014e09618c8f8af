// Tracing of the jobs a Worker runs, as an interface the worker calls and the
// telemetry library (src/telemetry) implements; the worker knows nothing of
// OpenTelemetry. The worker owns each JobSpan it starts (one per claimed job,
// kept with the running job) and ends it when the job's outcome is known; a
// span never ended is ended by its destructor (the job was handed back, or its
// outcome could not be recorded). The JobTracer is the caller's and outlives
// the workers. No tracer configured = no JobSpan at all: nothing is spent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace bullmq {

struct Job;

// How a job's attempt ended, as far as tracing cares.
struct JobSpanEnd {
  enum class Kind {
    kCompleted,   // moved to completed
    kFailed,      // moved to failed (no attempt left, or unrecoverable)
    kRetried,     // failed; will run again (now or after a backoff delay)
    kMoved,       // the processor moved it (delayed, waiting-children)
    kDeferred,    // a dependency is down: back to delayed without spending an attempt
    kNotRecorded  // Redis did not take the outcome (lock lost, job gone, …)
  };
  Kind kind = Kind::kCompleted;
  std::string_view value;       // kCompleted: return value JSON; otherwise the reason
  std::string_view error_type;  // failures: "Error", "UnrecoverableError", a C++ type, …
  std::string_view stack;       // failures: the stack entry stored with the job, or empty
  int attempts_made = 0;        // Node's job.attemptsMade once the outcome is recorded
  std::int64_t finished_on_ms = 0;
  std::int64_t processed_on_ms = 0;
};

// A producer span around one job added by a running job's processor (Node's
// "add <queue>.<name>" PRODUCER span, child of the consumer span). Its
// metadata() is what the new job stores as opts.telemetry.metadata (the `tm`
// key of the stored opts), so the new job's consumer continues the trace.
class AddJobSpan {
 public:
  virtual ~AddJobSpan() = default;
  virtual const std::string& metadata() const = 0;
  // The job was added (`job_id`), or adding it failed (`error` non-empty).
  virtual void end(std::string_view job_id, std::string_view error = {}) = 0;
};

// The consumer span of one claimed job. trace_id()/span_id() (lowercase hex)
// are fixed at start and may be read from any thread; end() is called once,
// on the I/O thread; start_add() from the processing thread running the job.
class JobSpan {
 public:
  virtual ~JobSpan() = default;
  virtual const std::string& trace_id() const = 0;
  virtual const std::string& span_id() const = 0;
  virtual void end(const JobSpanEnd& outcome) = 0;
  // For Worker::Context::add_job: a producer span, child of this job's span,
  // for a job named `job_name` added to queue `queue`.
  virtual std::unique_ptr<AddJobSpan> start_add(std::string_view queue,
                                                std::string_view job_name) = 0;
};

struct JobSpanStart {
  const Job& job;  // its opts.telemetry_metadata is the producer's context
  std::string_view worker_id;
  std::string_view worker_name;  // the worker's `name` option, may be empty
};

class JobTracer {
 public:
  virtual ~JobTracer() = default;
  // Starts the consumer span of a claimed job; null when this job is not traced.
  virtual std::unique_ptr<JobSpan> start_job(const JobSpanStart& start) = 0;
};

}  // namespace bullmq
