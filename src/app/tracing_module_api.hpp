// The boundary between the bullmq-worker binary and its tracing module
// (bullmq-worker-otel.so): src/telemetry (the OTLP/HTTP exporter on Beast
// and OpenSSL, the BullMQ-shaped spans) is loaded only when tracing is asked
// for, so a worker that does not trace maps none of it (about 1 MiB of RSS).
// Both sides are built from this tree by the same compiler, like the files
// plugin's extra entry points; the module stays loaded until the process
// exits. The binary owns the TracingService it gets and shuts it down.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "bullmq/job_tracer.hpp"
#include "bullmq/logger.hpp"

namespace app {

struct SpanCounts {
  std::uint64_t exported = 0;  // spans the collector accepted
  std::uint64_t dropped = 0;   // queue full, or left at the shutdown deadline
  std::uint64_t failed = 0;    // batches given up after retries, or refused
  std::uint64_t queued = 0;    // finished spans waiting to be exported
};

// Tracing while the worker runs. tracer() is used by the workers (see
// bullmq/job_tracer.hpp for its threads); counts() from the metrics thread.
class TracingService {
 public:
  virtual ~TracingService() = default;
  virtual bullmq::JobTracer& tracer() = 0;
  virtual SpanCounts counts() const = 0;
  // Sends what is queued, within `deadline`; then nothing more is exported.
  virtual void shutdown(std::chrono::milliseconds deadline) = 0;
};

struct TracingStart {
  std::uint32_t size = sizeof(TracingStart);  // checked by the module
  const char* endpoint = "";                  // --otel-endpoint (may be empty)
  const char* service_name = "";              // --otel-service-name (may be empty)
  const char* version = "";                   // the worker's version
  bullmq::LogLevel log_level = bullmq::LogLevel::kInfo;
  bullmq::LogFormat log_format = bullmq::LogFormat::kJson;
};

// Reads the OTEL_* environment too. Returns the service (owned by the
// caller); nullptr with an empty `error` when tracing turns out to be off
// (OTEL_SDK_DISABLED=true); nullptr with `error` set (NUL-terminated, at most
// `error_size` bytes) when a setting is unusable.
using TracingStartFn = TracingService* (*)(const TracingStart* start, char* error,
                                           std::size_t error_size);

inline constexpr const char* kTracingModuleFile = "bullmq-worker-otel.so";
inline constexpr const char* kTracingStartSymbol = "bullmq_tracing_start";

}  // namespace app
