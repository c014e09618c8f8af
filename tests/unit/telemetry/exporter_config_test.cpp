#include "telemetry/exporter_config.hpp"

#include <doctest/doctest.h>

#include <map>

using namespace telemetry;

namespace {
Environment env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}
std::string service_name(const ExporterConfig& c) {
  return std::get<std::string>(c.resource.front().value);
}
}  // namespace

TEST_CASE("URLs: http and https, ports, IPv6, paths") {
  std::string error;
  auto e = parse_http_url("http://collector:4318/v1/traces", &error);
  REQUIRE(e);
  CHECK_FALSE(e->tls);
  CHECK(e->host == "collector");
  CHECK(e->port == "4318");
  CHECK(e->target == "/v1/traces");
  e = parse_http_url("https://otel.example.com", &error);
  REQUIRE(e);
  CHECK(e->tls);
  CHECK(e->port == "443");
  CHECK(e->target == "/");
  e = parse_http_url("http://[::1]:4318/x?y=1", &error);
  REQUIRE(e);
  CHECK(e->host == "::1");
  CHECK(e->target == "/x?y=1");
  e = parse_http_url("http://h?x=1", &error);
  REQUIRE(e);
  CHECK(e->target == "/?x=1");
  CHECK_FALSE(parse_http_url("grpc://collector:4317", &error));
  CHECK(error.find("http://") != std::string::npos);
  CHECK_FALSE(parse_http_url("http://:4318", &error));
  CHECK_FALSE(parse_http_url("http://host:99999", &error));
  CHECK_FALSE(parse_http_url("http://user:pw@host", &error));
}

TEST_CASE("the traces URL: <base>/v1/traces; the signal variable verbatim") {
  CHECK(traces_url_for("http://c:4318") == "http://c:4318/v1/traces");
  CHECK(traces_url_for("http://c:4318/") == "http://c:4318/v1/traces");
  CHECK(traces_url_for("http://c:4318/otlp") == "http://c:4318/otlp/v1/traces");
  std::string error;
  auto c = exporter_config({"http://c:4318", "", "1.0"}, env_of({}), &error);
  REQUIRE(c);
  CHECK(c->endpoint.target == "/v1/traces");
  c = exporter_config({"http://c:4318", "", "1.0"},
                      env_of({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:9/custom"}}),
                      &error);
  REQUIRE(c);
  CHECK(c->endpoint.host == "t");
  CHECK(c->endpoint.target == "/custom");
}

TEST_CASE("off without an endpoint, or when the SDK is disabled") {
  std::string error;
  CHECK_FALSE(exporter_config({"", "", "1.0"}, env_of({}), &error));
  CHECK(error.empty());
  CHECK_FALSE(exporter_config({"http://c:4318", "", "1.0"}, env_of({{"OTEL_SDK_DISABLED", "true"}}),
                              &error));
  CHECK(error.empty());
}

TEST_CASE("headers, resource attributes, service name") {
  std::string error;
  auto c = exporter_config(
      {"http://c:4318", "", "1.2.3"},
      env_of({{"OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, x-tenant = t1,bad"},
              {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=t2"},
              {"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,service.name=from-attrs"}}),
      &error);
  REQUIRE(c);
  CHECK(error.find("'bad'") != std::string::npos);  // reported, not fatal
  REQUIRE(c->headers.size() == 2);
  CHECK(c->headers[0] == std::pair<std::string, std::string>{"api-key", "a b"});
  CHECK(c->headers[1] == std::pair<std::string, std::string>{"x-tenant", "t2"});
  CHECK(service_name(*c) == "from-attrs");
  bool env = false, version = false;
  for (const auto& a : c->resource) {
    if (a.key == "deployment.environment") env = std::get<std::string>(a.value) == "prod";
    if (a.key == "service.version") version = std::get<std::string>(a.value) == "1.2.3";
  }
  CHECK(env);
  CHECK(version);

  c = exporter_config({"http://c:4318", "flag-name", "1"},
                      env_of({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"}}), &error);
  CHECK(service_name(*c) == "flag-name");
  c = exporter_config({"http://c:4318", "", "1"}, env_of({}), &error);
  CHECK(service_name(*c) == "bullmq-worker");
}

TEST_CASE("batch settings: spec defaults, env overrides, bad values refused") {
  std::string error;
  auto c = exporter_config({"http://c:4318", "", "1"}, env_of({}), &error);
  REQUIRE(c);
  CHECK(c->max_queue_size == 2048);
  CHECK(c->max_export_batch_size == 512);
  CHECK(c->schedule_delay == std::chrono::milliseconds(5000));
  CHECK(c->timeout == std::chrono::milliseconds(10000));
  c = exporter_config({"http://c:4318", "", "1"},
                      env_of({{"OTEL_BSP_MAX_QUEUE_SIZE", "100"},
                              {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"},
                              {"OTEL_BSP_SCHEDULE_DELAY", "200"},
                              {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1500"}}),
                      &error);
  REQUIRE(c);
  CHECK(c->max_queue_size == 100);
  CHECK(c->max_export_batch_size == 100);  // never more than the queue
  CHECK(c->schedule_delay == std::chrono::milliseconds(200));
  CHECK(c->timeout == std::chrono::milliseconds(1500));
  error.clear();
  CHECK_FALSE(exporter_config({"http://c:4318", "", "1"},
                              env_of({{"OTEL_BSP_MAX_QUEUE_SIZE", "many"}}), &error));
  CHECK(error.find("OTEL_BSP_MAX_QUEUE_SIZE") != std::string::npos);
}
