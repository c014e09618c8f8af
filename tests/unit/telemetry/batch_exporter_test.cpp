#include "telemetry/batch_exporter.hpp"

#include <doctest/doctest.h>

#include <thread>

#include "bullmq/asio.hpp"

using namespace telemetry;
using namespace std::chrono_literals;

namespace {

// A collector that accepts connections (the kernel's backlog does) and never answers.
struct SilentCollector {
  bullmq::asio::io_context io;
  bullmq::asio::ip::tcp::acceptor acceptor{
      io, bullmq::asio::ip::tcp::endpoint(bullmq::asio::ip::make_address("127.0.0.1"), 0)};
  std::string url() const {
    std::string url = "http://127.0.0.1:";
    url += std::to_string(acceptor.local_endpoint().port());
    url += "/v1/traces";
    return url;
  }
};

Span a_span() {
  Span s;
  s.trace_id = random_trace_id();
  s.span_id = random_span_id();
  s.name = "process q";
  return s;
}

template <typename F>
bool eventually(F condition) {
  for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(5ms)) {
    if (condition()) return true;
  }
  return condition();
}

}  // namespace

TEST_CASE(
    "a stuck collector: the queue stays bounded, extra spans are dropped and counted, "
    "and the shutdown deadline cuts the export short") {
  SilentCollector collector;
  ExporterConfig config;
  config.endpoint = *parse_http_url(collector.url(), nullptr);
  config.timeout = 60s;
  config.schedule_delay = 1h;
  config.max_queue_size = 4;
  config.max_export_batch_size = 4;
  BatchExporter exporter(config, Emitter{{}, "bullmq", ""});

  // A full batch goes to the exporter thread, which then hangs on the collector.
  for (int i = 0; i < 4; ++i) CHECK(exporter.enqueue(a_span()));
  REQUIRE(eventually([&] { return exporter.stats().queued == 0; }));
  // The queue takes 4 more; the rest is dropped, not buffered.
  for (int i = 0; i < 4; ++i) CHECK(exporter.enqueue(a_span()));
  for (int i = 0; i < 3; ++i) CHECK_FALSE(exporter.enqueue(a_span()));
  ExporterStats s = exporter.stats();
  CHECK(s.queued == 4);
  CHECK(s.dropped == 3);
  CHECK(s.exported == 0);

  const auto started = std::chrono::steady_clock::now();
  exporter.shutdown(300ms);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  s = exporter.stats();
  CHECK(s.queued == 0);
  CHECK(s.exported == 0);
  CHECK(s.failed == 4);                     // the batch that was under way
  CHECK(s.dropped == 3 + 4);                // and the queued ones, at the deadline
  CHECK_FALSE(exporter.enqueue(a_span()));  // after shutdown
}
