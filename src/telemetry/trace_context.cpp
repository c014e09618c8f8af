#include "telemetry/trace_context.hpp"

#include <openssl/rand.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <random>
#include <stdexcept>

namespace telemetry {
namespace {

constexpr char kHex[] = "0123456789abcdef";

template <std::size_t N>
std::string hex_of(const std::array<std::uint8_t, N>& bytes) {
  std::string out;
  out.reserve(N * 2);
  for (std::uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // W3C trace context is lowercase only
}

template <std::size_t N>
bool parse_hex(std::string_view text, std::array<std::uint8_t, N>& out) {
  if (text.size() != N * 2) return false;
  for (std::size_t i = 0; i < N; ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

template <std::size_t N>
bool non_zero(const std::array<std::uint8_t, N>& id) {
  return std::any_of(id.begin(), id.end(), [](std::uint8_t b) { return b != 0; });
}

template <std::size_t N>
std::array<std::uint8_t, N> random_id() {
  std::array<std::uint8_t, N> id{};
  do {
    if (RAND_bytes(id.data(), static_cast<int>(N)) != 1) {
      // OpenSSL's generator failing is next to impossible; ids need to be
      // unique, not secret, so fall back to the standard library's.
      thread_local std::mt19937_64 fallback{std::random_device{}()};
      for (auto& b : id) b = static_cast<std::uint8_t>(fallback());
    }
  } while (!non_zero(id));
  return id;
}

}  // namespace

std::string to_hex(const TraceId& id) {
  return hex_of(id);
}
std::string to_hex(const SpanId& id) {
  return hex_of(id);
}
bool is_valid(const TraceId& id) {
  return non_zero(id);
}
bool is_valid(const SpanId& id) {
  return non_zero(id);
}
TraceId random_trace_id() {
  return random_id<16>();
}
SpanId random_span_id() {
  return random_id<8>();
}

std::optional<SpanContext> parse_traceparent(std::string_view header) {
  // Surrounding blanks are allowed in HTTP header values.
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t'))
    header.remove_prefix(1);
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t'))
    header.remove_suffix(1);
  // version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55
  if (header.size() < 55) return std::nullopt;
  std::array<std::uint8_t, 1> version{}, flags{};
  if (!parse_hex(header.substr(0, 2), version) || version[0] == 0xff) return std::nullopt;
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  // Version 00 is exactly 55 characters; a later version may add fields after a '-'.
  if (header.size() > 55 && (version[0] == 0 || header[55] != '-')) return std::nullopt;
  SpanContext context;
  if (!parse_hex(header.substr(3, 32), context.trace_id) ||
      !parse_hex(header.substr(36, 16), context.span_id) ||
      !parse_hex(header.substr(53, 2), flags)) {
    return std::nullopt;
  }
  if (!context.valid()) return std::nullopt;
  context.flags = flags[0];
  return context;
}

std::string format_traceparent(const SpanContext& context) {
  std::string out = "00-";
  out += to_hex(context.trace_id);
  out += '-';
  out += to_hex(context.span_id);
  out += '-';
  out += kHex[context.flags >> 4];
  out += kHex[context.flags & 0xf];
  return out;
}

std::optional<SpanContext> context_from_metadata(std::string_view metadata) {
  if (metadata.empty()) return std::nullopt;
  rapidjson::Document doc;
  doc.Parse(metadata.data(), metadata.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  auto member = [&doc](const char* name) -> std::string_view {
    auto it = doc.FindMember(name);
    if (it == doc.MemberEnd() || !it->value.IsString()) return {};
    return {it->value.GetString(), it->value.GetStringLength()};
  };
  auto context = parse_traceparent(member("traceparent"));
  if (!context) return std::nullopt;
  context->trace_state = std::string(member("tracestate"));
  return context;
}

std::string metadata_for(const SpanContext& context) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("traceparent");
  const std::string traceparent = format_traceparent(context);
  writer.String(traceparent.c_str(), static_cast<rapidjson::SizeType>(traceparent.size()));
  if (!context.trace_state.empty()) {
    writer.Key("tracestate");
    writer.String(context.trace_state.c_str(),
                  static_cast<rapidjson::SizeType>(context.trace_state.size()));
  }
  writer.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace telemetry
