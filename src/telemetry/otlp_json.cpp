#include "telemetry/otlp_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cmath>

namespace telemetry {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void string(Writer& w, const std::string& s) {
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

void attributes(Writer& w, const Attributes& attrs) {
  w.Key("attributes");
  w.StartArray();
  for (const auto& a : attrs) {
    w.StartObject();
    w.Key("key");
    string(w, a.key);
    w.Key("value");
    w.StartObject();
    if (auto s = std::get_if<std::string>(&a.value)) {
      w.Key("stringValue");
      string(w, *s);
    } else if (auto i = std::get_if<std::int64_t>(&a.value)) {
      w.Key("intValue");
      string(w, std::to_string(*i));  // int64 as a JSON string
    } else if (auto d = std::get_if<double>(&a.value)) {
      w.Key("doubleValue");
      if (std::isfinite(*d)) {
        w.Double(*d);
      } else {
        w.String(std::isnan(*d) ? "NaN" : (*d > 0 ? "Infinity" : "-Infinity"));
      }
    } else {
      w.Key("boolValue");
      w.Bool(std::get<bool>(a.value));
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
}

void span(Writer& w, const Span& s) {
  w.StartObject();
  w.Key("traceId");
  string(w, to_hex(s.trace_id));
  w.Key("spanId");
  string(w, to_hex(s.span_id));
  if (!s.trace_state.empty()) {
    w.Key("traceState");
    string(w, s.trace_state);
  }
  if (is_valid(s.parent_span_id)) {
    w.Key("parentSpanId");
    string(w, to_hex(s.parent_span_id));
  }
  w.Key("flags");
  w.Uint(s.flags);
  w.Key("name");
  string(w, s.name);
  w.Key("kind");
  w.Int(static_cast<int>(s.kind));
  w.Key("startTimeUnixNano");
  string(w, std::to_string(s.start_unix_nano));
  w.Key("endTimeUnixNano");
  string(w, std::to_string(s.end_unix_nano));
  attributes(w, s.attributes);
  w.Key("events");
  w.StartArray();
  for (const auto& e : s.events) {
    w.StartObject();
    w.Key("timeUnixNano");
    string(w, std::to_string(e.time_unix_nano));
    w.Key("name");
    string(w, e.name);
    attributes(w, e.attributes);
    w.EndObject();
  }
  w.EndArray();
  w.Key("status");
  w.StartObject();
  if (s.status != StatusCode::kUnset) {
    w.Key("code");
    w.Int(static_cast<int>(s.status));
  }
  if (!s.status_message.empty()) {
    w.Key("message");
    string(w, s.status_message);
  }
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::uint64_t now_unix_nano() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string encode_export_request(const Emitter& emitter, const std::vector<Span>& spans) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("resourceSpans");
  w.StartArray();
  w.StartObject();
  w.Key("resource");
  w.StartObject();
  attributes(w, emitter.resource);
  w.EndObject();
  w.Key("scopeSpans");
  w.StartArray();
  w.StartObject();
  w.Key("scope");
  w.StartObject();
  w.Key("name");
  string(w, emitter.scope_name);
  if (!emitter.scope_version.empty()) {
    w.Key("version");
    string(w, emitter.scope_version);
  }
  w.EndObject();
  w.Key("spans");
  w.StartArray();
  for (const auto& s : spans) span(w, s);
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace telemetry
