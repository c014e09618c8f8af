// OTLP/JSON encoding of an export request (ExportTraceServiceRequest, as the
// OTLP spec maps protobuf to JSON: lowerCamelCase names, ids as hex, 64-bit
// integers as strings, enums as numbers). Pure.
#pragma once

#include <string>
#include <vector>

#include "telemetry/span.hpp"

namespace telemetry {

// Who emits the spans: resource attributes (service.name, …) and the
// instrumentation scope.
struct Emitter {
  Attributes resource;
  std::string scope_name;
  std::string scope_version;
};

std::string encode_export_request(const Emitter& emitter, const std::vector<Span>& spans);

}  // namespace telemetry
