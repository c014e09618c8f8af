#include "telemetry/otlp_json.hpp"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

using namespace telemetry;

TEST_CASE("OTLP/JSON: ids in hex, int64 as strings, enums as numbers") {
  Span s;
  const auto parent = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  REQUIRE(parent);
  s.trace_id = parent->trace_id;
  s.span_id = random_span_id();
  s.parent_span_id = parent->span_id;
  s.name = "process q";
  s.kind = SpanKind::kConsumer;
  s.start_unix_nano = 1700000000000000001ULL;
  s.end_unix_nano = 1700000000000000002ULL;
  s.attributes = {{"bullmq.job.id", std::string("7")},
                  {"bullmq.job.attempts.made", std::int64_t{2}},
                  {"ratio", 0.5},
                  {"flag", true}};
  s.events.push_back({"job failed", 5, {{"bullmq.job.failed.reason", std::string("boom \"x\"")}}});
  s.status = StatusCode::kError;
  s.status_message = "boom";

  Emitter emitter{{{"service.name", std::string("svc")}}, "bullmq", "0.1.0"};
  const std::string text = encode_export_request(emitter, {s});
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_FALSE(d.HasParseError());
  const auto& rs = d["resourceSpans"][0];
  CHECK(std::string(rs["resource"]["attributes"][0]["key"].GetString()) == "service.name");
  CHECK(std::string(rs["resource"]["attributes"][0]["value"]["stringValue"].GetString()) == "svc");
  const auto& ss = rs["scopeSpans"][0];
  CHECK(std::string(ss["scope"]["name"].GetString()) == "bullmq");
  const auto& span = ss["spans"][0];
  CHECK(std::string(span["traceId"].GetString()) == "0af7651916cd43dd8448eb211c80319c");
  CHECK(std::string(span["parentSpanId"].GetString()) == "b7ad6b7169203331");
  CHECK(std::string(span["spanId"].GetString()).size() == 16);
  CHECK(span["kind"].GetInt() == 5);  // SPAN_KIND_CONSUMER
  CHECK(std::string(span["startTimeUnixNano"].GetString()) == "1700000000000000001");
  CHECK(std::string(span["attributes"][1]["value"]["intValue"].GetString()) == "2");
  CHECK(span["attributes"][2]["value"]["doubleValue"].GetDouble() == 0.5);
  CHECK(span["attributes"][3]["value"]["boolValue"].GetBool());
  CHECK(std::string(span["events"][0]["attributes"][0]["value"]["stringValue"].GetString()) ==
        "boom \"x\"");
  CHECK(span["status"]["code"].GetInt() == 2);
  CHECK(std::string(span["status"]["message"].GetString()) == "boom");
}

TEST_CASE("OTLP/JSON: a root span has no parentSpanId; unset status has no code") {
  Span s;
  s.trace_id = random_trace_id();
  s.span_id = random_span_id();
  const std::string text = encode_export_request(Emitter{{}, "bullmq", ""}, {s});
  rapidjson::Document d;
  d.Parse(text.c_str());
  const auto& span = d["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  CHECK_FALSE(span.HasMember("parentSpanId"));
  CHECK_FALSE(span["status"].HasMember("code"));
  CHECK_FALSE(d["resourceSpans"][0]["scopeSpans"][0]["scope"].HasMember("version"));
}
