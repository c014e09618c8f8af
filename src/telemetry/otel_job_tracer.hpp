// bullmq::JobTracer on OpenTelemetry terms: one CONSUMER span per claimed job
// named and attributed as BullMQ's Node Worker does with bullmq-otel
// ("process <queue>", bullmq.* attributes, "job completed"/"job failed"
// events), parented on the producer's context stored in the job's options;
// a PRODUCER span ("add <queue>.<name>") per job a processor adds. Failures
// also get status ERROR and an "exception" event (the Node Worker leaves the
// status unset). Finished spans go to the BatchExporter, which must outlive
// the tracer and every span it started.
#pragma once

#include <memory>
#include <string>

#include "bullmq/job_tracer.hpp"
#include "telemetry/batch_exporter.hpp"

namespace telemetry {

// The instrumentation scope of the spans (bullmq-otel's default tracer name).
inline constexpr const char* kScopeName = "bullmq";

class OtelJobTracer final : public bullmq::JobTracer {
 public:
  explicit OtelJobTracer(BatchExporter& exporter) : exporter_(exporter) {}
  std::unique_ptr<bullmq::JobSpan> start_job(const bullmq::JobSpanStart& start) override;

 private:
  BatchExporter& exporter_;
};

}  // namespace telemetry
