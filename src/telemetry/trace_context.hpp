// W3C Trace Context: trace and span ids, the `traceparent`/`tracestate`
// headers, and the carrier bullmq-otel stores in a job's options
// (opts.telemetry.metadata, stored as `tm`: a JSON object of propagation
// headers as text, e.g. {"traceparent":"00-<trace>-<span>-01"}). Pure
// functions over plain values, plus random ids from OpenSSL.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace telemetry {

using TraceId = std::array<std::uint8_t, 16>;
using SpanId = std::array<std::uint8_t, 8>;

// Lowercase hex of the bytes.
std::string to_hex(const TraceId& id);
std::string to_hex(const SpanId& id);
// True for a non-zero id (W3C: all-zero ids are invalid).
bool is_valid(const TraceId& id);
bool is_valid(const SpanId& id);
// Random non-zero ids (OpenSSL RAND_bytes; thread-safe).
TraceId random_trace_id();
SpanId random_span_id();

struct SpanContext {
  TraceId trace_id{};
  SpanId span_id{};
  std::uint8_t flags = 0;   // bit 0: sampled
  std::string trace_state;  // `tracestate` as received, or empty
  bool valid() const { return is_valid(trace_id) && is_valid(span_id); }
  bool sampled() const { return (flags & 1) != 0; }
};

// Parses a `traceparent` header ("00-<32 hex>-<16 hex>-<2 hex>"; a later
// version may carry more after a '-'). Nothing when it is malformed, all-zero,
// or version ff, as the W3C spec says.
std::optional<SpanContext> parse_traceparent(std::string_view header);
std::string format_traceparent(const SpanContext& context);

// The remote parent in a bullmq-otel metadata string (a JSON object whose
// `traceparent` and `tracestate` members are headers). Nothing when the text
// is empty, not JSON, or has no valid traceparent.
std::optional<SpanContext> context_from_metadata(std::string_view metadata);
// The metadata string for `context`, as bullmq-otel's getMetadata writes it.
std::string metadata_for(const SpanContext& context);

}  // namespace telemetry
