#include "telemetry/trace_context.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace telemetry;

TEST_CASE("traceparent: a valid header round-trips") {
  const std::string header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  auto c = parse_traceparent(header);
  REQUIRE(c);
  CHECK(to_hex(c->trace_id) == "0af7651916cd43dd8448eb211c80319c");
  CHECK(to_hex(c->span_id) == "b7ad6b7169203331");
  CHECK(c->flags == 1);
  CHECK(c->sampled());
  CHECK(format_traceparent(*c) == header);
  CHECK(parse_traceparent("  " + header + " "));  // header blanks
}

TEST_CASE("traceparent: malformed headers are refused") {
  CHECK_FALSE(parse_traceparent(""));
  CHECK_FALSE(parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"));
  // uppercase hex
  CHECK_FALSE(parse_traceparent("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"));
  // all-zero ids
  CHECK_FALSE(parse_traceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01"));
  CHECK_FALSE(parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"));
  // version ff is invalid; version 00 has nothing after the flags
  CHECK_FALSE(parse_traceparent("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
  CHECK_FALSE(parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x"));
  // wrong separators
  CHECK_FALSE(parse_traceparent("00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
  // a later version may append fields
  CHECK(parse_traceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-extra"));
}

TEST_CASE("metadata: bullmq-otel's carrier (JSON of propagation headers)") {
  auto c = context_from_metadata(
      R"({"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00","tracestate":"v=1"})");
  REQUIRE(c);
  CHECK(to_hex(c->trace_id) == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(to_hex(c->span_id) == "00f067aa0ba902b7");
  CHECK_FALSE(c->sampled());
  CHECK(c->trace_state == "v=1");
  CHECK(
      metadata_for(*c) ==
      R"({"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00","tracestate":"v=1"})");
  c->trace_state.clear();
  CHECK(metadata_for(*c) ==
        R"({"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"})");

  CHECK_FALSE(context_from_metadata(""));
  CHECK_FALSE(context_from_metadata("{}"));  // no propagator registered on the producer
  CHECK_FALSE(context_from_metadata("not json"));
  CHECK_FALSE(context_from_metadata(R"({"traceparent":42})"));
  CHECK_FALSE(
      context_from_metadata(R"(["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"])"));
}

TEST_CASE("random ids are valid and differ") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto t = random_trace_id();
    auto s = random_span_id();
    CHECK(is_valid(t));
    CHECK(is_valid(s));
    seen.insert(to_hex(t));
  }
  CHECK(seen.size() == 100);
}
