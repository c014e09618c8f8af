// Counters a Worker keeps about its own work, read by the metrics endpoint
// and by tests. Updated and read on the I/O thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace bullmq {

// Upper bounds (seconds) of the processing-time histogram buckets.
inline constexpr std::array<double, 14> kDurationBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

struct JobNameStats {
  std::uint64_t claimed = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;   // final failures
  std::uint64_t retried = 0;  // failed attempts that will run again
  // The processor moved the job itself (delayed, back to wait, waiting for
  // children) or rate-limited the queue (back to wait).
  std::uint64_t moved_by_processor = 0;
  std::uint64_t deferred = 0;  // back to delayed without an attempt: a dependency was down
  double processing_seconds_sum = 0;
  std::uint64_t processing_count = 0;
  // Cumulative counts per bucket of kDurationBuckets (Prometheus style).
  std::array<std::uint64_t, kDurationBuckets.size()> processing_buckets{};

  void observe(double seconds) {
    processing_seconds_sum += seconds;
    ++processing_count;
    for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
      if (seconds <= kDurationBuckets[i]) ++processing_buckets[i];
    }
  }
};

// Jobs of a queue by state, as read from Redis.
struct QueueDepth {
  std::int64_t wait = 0;
  std::int64_t prioritized = 0;
  std::int64_t delayed = 0;
  std::int64_t active = 0;
  std::int64_t waiting_children = 0;
  std::int64_t completed = 0;
  std::int64_t failed = 0;
  bool paused = false;
  std::int64_t global_concurrency = 0;  // meta "concurrency", 0 = unset
};

struct WorkerStats {
  std::map<std::string, JobNameStats> by_name;
  std::uint64_t locks_lost = 0;
  std::uint64_t finish_errors = 0;
  std::int64_t last_claim_ms = 0;
};

}  // namespace bullmq
