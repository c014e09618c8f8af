// The batch span processor and OTLP/HTTP JSON exporter in one: finished spans
// go into a bounded queue (enqueue() never blocks on the network and never
// grows memory past the bound: when the queue is full the span is dropped and
// counted); a thread of its own sends them in batches (when a batch is full,
// or after the schedule delay), retrying a failed batch with backoff while
// new spans keep to the bound. shutdown() flushes what is queued, with a
// deadline. The exporter owns its thread and its HTTP client.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "telemetry/exporter_config.hpp"
#include "telemetry/otlp_json.hpp"
#include "telemetry/span.hpp"

namespace telemetry {

class HttpPoster;

struct ExporterStats {
  std::uint64_t exported = 0;  // spans the collector accepted
  std::uint64_t dropped = 0;   // spans dropped: queue full, or left at the shutdown deadline
  std::uint64_t failed = 0;    // spans of batches given up after retries or refused
  std::uint64_t queued = 0;    // spans waiting now
};

class BatchExporter {
 public:
  // Throws std::runtime_error when the TLS settings are unusable.
  BatchExporter(ExporterConfig config, Emitter emitter);
  ~BatchExporter();  // shutdown(0) if it was not shut down
  BatchExporter(const BatchExporter&) = delete;
  BatchExporter& operator=(const BatchExporter&) = delete;

  // Any thread. False when the span was dropped (queue full, or shut down).
  bool enqueue(Span&& span);
  // Sends what is queued, giving up at `deadline` from now; stops the thread.
  // Later calls do nothing.
  void shutdown(std::chrono::milliseconds deadline);
  ExporterStats stats() const;

 private:
  void run();
  // Sends one batch, retrying retryable failures with backoff until it is
  // accepted, refused for good, retries run out, or the shutdown deadline.
  void send(std::vector<Span>& batch);
  bool past_deadline() const;

  const ExporterConfig config_;
  const Emitter emitter_;
  std::unique_ptr<HttpPoster> poster_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Span> queue_;
  bool stopping_ = false;
  bool done_ = false;  // run() returned
  std::chrono::steady_clock::time_point deadline_{};
  std::atomic<std::uint64_t> exported_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> failed_{0};
  bool failing_ = false;  // exporter thread only: the last export failed (logged once)
  std::thread thread_;
};

}  // namespace telemetry
