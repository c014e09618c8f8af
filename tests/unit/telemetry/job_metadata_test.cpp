// The producer's context as the worker finds it: bullmq-otel's metadata in
// the stored job options (`tm`, `omc`), decoded with the rest of the options.
#include <doctest/doctest.h>

#include "bullmq/job.hpp"
#include "telemetry/trace_context.hpp"

TEST_CASE("a job hash's opts carry the producer's trace context as `tm`") {
  const std::string tm =
      R"({"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})";
  std::string opts = R"({"attempts":2,"tm":)";
  // Stored as a JSON string inside the opts object, as BullMQ's optsAsJSON writes it.
  opts += R"("{\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"}")";
  opts += R"(,"omc":true})";
  auto job = bullmq::Job::from_hash("q", "1", {"name", "echo", "opts", opts});
  CHECK(job.opts_error.empty());
  CHECK(job.opts.attempts == 2);
  CHECK(job.opts.telemetry_metadata == tm);
  CHECK(job.opts.telemetry_omit_context);
  auto parent = telemetry::context_from_metadata(job.opts.telemetry_metadata);
  REQUIRE(parent);
  CHECK(telemetry::to_hex(parent->span_id) == "00f067aa0ba902b7");

  auto plain = bullmq::Job::from_hash("q", "2", {"opts", R"({"attempts":1})"});
  CHECK(plain.opts.telemetry_metadata.empty());
  CHECK_FALSE(plain.opts.telemetry_omit_context);
}
