#include "telemetry/otel_job_tracer.hpp"

#include "bullmq/job.hpp"
#include "telemetry/span.hpp"
#include "telemetry/trace_context.hpp"

namespace telemetry {
namespace {

// BullMQ's TelemetryAttributes names.
constexpr const char* kQueueName = "bullmq.queue.name";
constexpr const char* kQueueOperation = "bullmq.queue.operation";
constexpr const char* kJobName = "bullmq.job.name";
constexpr const char* kJobId = "bullmq.job.id";
constexpr const char* kJobAttemptsMade = "bullmq.job.attempts.made";
constexpr const char* kWorkerId = "bullmq.worker.id";
constexpr const char* kWorkerName = "bullmq.worker.name";
constexpr const char* kJobResult = "bullmq.job.result";
constexpr const char* kJobFailedReason = "bullmq.job.failed.reason";
constexpr const char* kJobAttemptFinished = "bullmq.job.attempt_finished_timestamp";
constexpr const char* kJobProcessed = "bullmq.job.processed.timestamp";

std::string str(std::string_view s) {
  return std::string(s);
}

// The error's type as the stack entry names it ("Type: message\n    at …").
std::string error_type_of(std::string_view stack) {
  const std::size_t colon = stack.find(": ");
  const std::size_t newline = stack.find('\n');
  if (colon == std::string_view::npos || (newline != std::string_view::npos && newline < colon))
    return "Error";
  return std::string(stack.substr(0, colon));
}

void record_error(Span& span, std::string_view type, std::string_view message,
                  std::string_view stack) {
  SpanEvent exception{"exception", now_unix_nano(), {}};
  exception.attributes.push_back({"exception.type", str(type)});
  exception.attributes.push_back({"exception.message", str(message)});
  if (!stack.empty()) exception.attributes.push_back({"exception.stacktrace", str(stack)});
  span.events.push_back(std::move(exception));
  span.status = StatusCode::kError;
  span.status_message = str(message);
}

class OtelAddJobSpan final : public bullmq::AddJobSpan {
 public:
  OtelAddJobSpan(BatchExporter& exporter, Span span, bool sampled)
      : exporter_(exporter), span_(std::move(span)), sampled_(sampled) {
    SpanContext context{span_.trace_id, span_.span_id, span_.flags, span_.trace_state};
    metadata_ = metadata_for(context);
  }
  ~OtelAddJobSpan() override {
    if (!ended_) end({}, {});
  }
  const std::string& metadata() const override { return metadata_; }
  void end(std::string_view job_id, std::string_view error) override {
    if (ended_) return;
    ended_ = true;
    if (!job_id.empty()) span_.attributes.push_back({kJobId, str(job_id)});
    if (!error.empty()) record_error(span_, "Error", error, {});
    span_.end_unix_nano = now_unix_nano();
    if (sampled_) exporter_.enqueue(std::move(span_));
  }

 private:
  BatchExporter& exporter_;
  Span span_;
  bool sampled_;
  bool ended_ = false;
  std::string metadata_;
};

class OtelJobSpan final : public bullmq::JobSpan {
 public:
  OtelJobSpan(BatchExporter& exporter, Span span, bool sampled, std::int64_t processed_on_ms)
      : exporter_(exporter),
        span_(std::move(span)),
        sampled_(sampled),
        processed_on_ms_(processed_on_ms),
        trace_id_(to_hex(span_.trace_id)),
        span_id_(to_hex(span_.span_id)) {}
  ~OtelJobSpan() override {
    if (!ended_) finish(0, unix_now_ms());
  }

  const std::string& trace_id() const override { return trace_id_; }
  const std::string& span_id() const override { return span_id_; }

  void end(const bullmq::JobSpanEnd& outcome) override {
    if (ended_) return;
    using Kind = bullmq::JobSpanEnd::Kind;
    const std::uint64_t now = now_unix_nano();
    switch (outcome.kind) {
      case Kind::kCompleted:
        span_.events.push_back({"job completed", now, {{kJobResult, str(outcome.value)}}});
        span_.attributes.push_back({kJobAttemptsMade, std::int64_t{outcome.attempts_made}});
        break;
      case Kind::kFailed:
      case Kind::kRetried:
        span_.events.push_back({"job failed", now, {{kJobFailedReason, str(outcome.value)}}});
        span_.attributes.push_back({kJobAttemptsMade, std::int64_t{outcome.attempts_made}});
        record_error(
            span_,
            outcome.error_type.empty() ? error_type_of(outcome.stack) : str(outcome.error_type),
            outcome.value, outcome.stack);
        break;
      case Kind::kNotRecorded:
        span_.status = StatusCode::kError;
        span_.status_message = str(outcome.value);
        break;
      case Kind::kMoved:
      case Kind::kDeferred:
        break;
    }
    if (outcome.processed_on_ms) processed_on_ms_ = outcome.processed_on_ms;
    finish(outcome.finished_on_ms, static_cast<std::int64_t>(now / 1000000));
  }

  std::unique_ptr<bullmq::AddJobSpan> start_add(std::string_view queue,
                                                std::string_view job_name) override {
    Span add;
    add.trace_id = span_.trace_id;
    add.span_id = random_span_id();
    add.parent_span_id = span_.span_id;
    add.trace_state = span_.trace_state;
    add.flags = span_.flags;
    add.name = "add ";
    add.name += queue;
    add.name += '.';
    add.name += job_name;
    add.kind = SpanKind::kProducer;
    add.start_unix_nano = now_unix_nano();
    add.attributes.push_back({kQueueName, str(queue)});
    add.attributes.push_back({kQueueOperation, std::string("add")});
    add.attributes.push_back({kJobName, str(job_name)});
    return std::make_unique<OtelAddJobSpan>(exporter_, std::move(add), sampled_);
  }

 private:
  static std::int64_t unix_now_ms() { return static_cast<std::int64_t>(now_unix_nano() / 1000000); }

  void finish(std::int64_t finished_on_ms, std::int64_t now_ms) {
    ended_ = true;
    span_.attributes.push_back(
        {kJobAttemptFinished, std::int64_t{finished_on_ms ? finished_on_ms : now_ms}});
    if (processed_on_ms_)
      span_.attributes.push_back({kJobProcessed, std::int64_t{processed_on_ms_}});
    span_.end_unix_nano = now_unix_nano();
    if (sampled_) exporter_.enqueue(std::move(span_));
  }

  BatchExporter& exporter_;
  Span span_;
  bool sampled_;
  std::int64_t processed_on_ms_;
  bool ended_ = false;
  std::string trace_id_;
  std::string span_id_;
};

}  // namespace

std::unique_ptr<bullmq::JobSpan> OtelJobTracer::start_job(const bullmq::JobSpanStart& start) {
  const bullmq::Job& job = start.job;
  Span span;
  span.span_id = random_span_id();
  bool sampled = true;
  if (auto parent = context_from_metadata(job.opts.telemetry_metadata)) {
    span.trace_id = parent->trace_id;
    span.parent_span_id = parent->span_id;
    span.trace_state = std::move(parent->trace_state);
    span.flags = parent->flags;
    // A parent-based sampler: the producer decided.
    sampled = parent->sampled();
  } else {
    span.trace_id = random_trace_id();
    span.flags = 1;
  }
  span.name = "process ";
  span.name += job.queue;
  span.kind = SpanKind::kConsumer;
  span.start_unix_nano = now_unix_nano();
  span.attributes.reserve(10);
  span.attributes.push_back({kQueueName, job.queue});
  span.attributes.push_back({kQueueOperation, std::string("process")});
  span.attributes.push_back({kWorkerId, str(start.worker_id)});
  // Node's span drops an undefined worker name.
  if (!start.worker_name.empty()) span.attributes.push_back({kWorkerName, str(start.worker_name)});
  span.attributes.push_back({kJobId, job.id});
  span.attributes.push_back({kJobName, job.name});
  return std::make_unique<OtelJobSpan>(exporter_, std::move(span), sampled, job.processed_on_ms);
}

}  // namespace telemetry
