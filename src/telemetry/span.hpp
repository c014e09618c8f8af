// A finished span as it is exported: ids, parent, name, kind, times,
// attributes, events and status, in OTLP's terms. A plain value built on the
// thread that ends the span and then moved to the exporter.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "telemetry/trace_context.hpp"

namespace telemetry {

struct Attribute {
  using Value = std::variant<std::string, std::int64_t, double, bool>;
  std::string key;
  Value value;
};
using Attributes = std::vector<Attribute>;

struct SpanEvent {
  std::string name;
  std::uint64_t time_unix_nano = 0;
  Attributes attributes;
};

// OTLP's SpanKind enum values (note: OpenTelemetry JS numbers them one lower).
enum class SpanKind : int { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };
// OTLP's Status.code.
enum class StatusCode : int { kUnset = 0, kOk = 1, kError = 2 };

struct Span {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_span_id{};  // all zero: a root span
  std::string trace_state;
  std::uint8_t flags = 1;
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  Attributes attributes;
  std::vector<SpanEvent> events;
  StatusCode status = StatusCode::kUnset;
  std::string status_message;
};

// Nanoseconds since the epoch, now (system clock).
std::uint64_t now_unix_nano();

}  // namespace telemetry
