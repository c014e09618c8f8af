// Settings of the OTLP/HTTP trace exporter, from the worker's flags and the
// standard OpenTelemetry environment variables (OTEL_EXPORTER_OTLP_*,
// OTEL_BSP_*, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES). Pure: the
// environment is passed in as a lookup function, so that tests can fake it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "telemetry/span.hpp"

namespace telemetry {

// An http:// or https:// URL split for a client.
struct HttpEndpoint {
  bool tls = false;
  std::string host;  // without brackets for IPv6 literals
  std::string port;  // "80"/"443" when the URL has none
  std::string target = "/";
  std::string url;  // as given
};
// Nothing (and `error` says why) unless `url` is http(s)://host[:port][/path].
std::optional<HttpEndpoint> parse_http_url(std::string_view url, std::string* error);

// Where traces go for a base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT):
// "<base>/v1/traces", with one '/' between.
std::string traces_url_for(std::string_view base_endpoint);

// The W3C-Baggage-like lists of OTEL_EXPORTER_OTLP_HEADERS and
// OTEL_RESOURCE_ATTRIBUTES: "k1=v1,k2=v2", blanks trimmed, values
// percent-decoded. Entries without '=' or with an empty key are skipped and
// named in `bad` (when given).
std::vector<std::pair<std::string, std::string>> parse_key_values(std::string_view text,
                                                                  std::vector<std::string>* bad);

struct ExporterConfig {
  HttpEndpoint endpoint;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string ca_file;                       // OTEL_EXPORTER_OTLP_CERTIFICATE: extra CA for https
  std::chrono::milliseconds timeout{10000};  // one export request
  std::chrono::milliseconds schedule_delay{5000};  // OTEL_BSP_SCHEDULE_DELAY
  std::size_t max_queue_size = 2048;               // OTEL_BSP_MAX_QUEUE_SIZE
  std::size_t max_export_batch_size = 512;         // OTEL_BSP_MAX_EXPORT_BATCH_SIZE
  Attributes resource;                             // service.name first, then the rest
};

struct TracingFlags {
  std::string endpoint;      // --otel-endpoint / OTEL_EXPORTER_OTLP_ENDPOINT (base URL)
  std::string service_name;  // --otel-service-name / OTEL_SERVICE_NAME
  std::string service_version;
};

using Environment = std::function<const char*(const char*)>;

// Nothing when tracing is off: no endpoint (neither the flag nor
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), or OTEL_SDK_DISABLED=true. Sets
// `error` (and returns nothing) when a setting is unusable.
std::optional<ExporterConfig> exporter_config(const TracingFlags& flags, const Environment& env,
                                              std::string* error);

}  // namespace telemetry
