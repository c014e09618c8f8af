// The tracing module's entry point (see app/tracing_module_api.hpp): the
// OTLP/HTTP batch exporter and the job tracer of src/telemetry.
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "app/tracing_module_api.hpp"
#include "bullmq/logger.hpp"
#include "telemetry/batch_exporter.hpp"
#include "telemetry/exporter_config.hpp"
#include "telemetry/otel_job_tracer.hpp"

namespace {

class OtelTracing final : public app::TracingService {
 public:
  explicit OtelTracing(const telemetry::ExporterConfig& config, const char* version)
      : exporter_(config, telemetry::Emitter{config.resource, telemetry::kScopeName, version}),
        tracer_(exporter_) {}

  bullmq::JobTracer& tracer() override { return tracer_; }
  app::SpanCounts counts() const override {
    const telemetry::ExporterStats stats = exporter_.stats();
    return {stats.exported, stats.dropped, stats.failed, stats.queued};
  }
  void shutdown(std::chrono::milliseconds deadline) override { exporter_.shutdown(deadline); }

 private:
  telemetry::BatchExporter exporter_;
  telemetry::OtelJobTracer tracer_;
};

void copy_error(const std::string& message, char* error, std::size_t error_size) {
  if (error_size == 0) return;
  std::strncpy(error, message.c_str(), error_size - 1);
  error[error_size - 1] = '\0';
}

}  // namespace

extern "C" __attribute__((visibility("default"))) app::TracingService* bullmq_tracing_start(
    const app::TracingStart* start, char* error, std::size_t error_size) {
  if (error_size) error[0] = '\0';
  if (!start || start->size != sizeof(app::TracingStart)) {
    copy_error("the tracing module does not match this bullmq-worker binary (reinstall both)",
               error, error_size);
    return nullptr;
  }
  // This module has its own copy of the logger: configure it as the binary's.
  bullmq::Logger::instance().configure(start->log_level, start->log_format);
  std::string problem;
  auto config = telemetry::exporter_config(
      {start->endpoint, start->service_name, start->version},
      [](const char* name) { return static_cast<const char*>(std::getenv(name)); }, &problem);
  if (!config) {
    copy_error(problem, error, error_size);
    return nullptr;
  }
  if (!problem.empty()) bullmq::logger().warn("otel.config", problem);
  try {
    auto service = std::make_unique<OtelTracing>(*config, start->version);
    bullmq::logger().info(
        "otel.enabled", "tracing jobs: spans go to the OTLP/HTTP collector",
        {{"endpoint", config->endpoint.url},
         {"service_name", std::get<std::string>(config->resource.front().value)}});
    return service.release();
  } catch (const std::exception& e) {
    copy_error(e.what(), error, error_size);
    return nullptr;
  }
}
