// Counters a Worker keeps about its own work, read by the metrics endpoint
// and by tests. Updated and read on the I/O thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace bullmq {

struct JobNameStats {
  std::uint64_t claimed = 0;
  std::uint64_t completed = 0;
  std::uint64_t failed = 0;   // final failures
  std::uint64_t retried = 0;  // failed attempts that will run again
  std::uint64_t delayed = 0;  // moved back to delayed by the processor
  double processing_seconds_sum = 0;
};

struct WorkerStats {
  std::map<std::string, JobNameStats> by_name;
  std::uint64_t stalled_recovered = 0;
  std::uint64_t locks_lost = 0;
  std::uint64_t finish_errors = 0;
  std::int64_t last_claim_ms = 0;
};

}  // namespace bullmq
