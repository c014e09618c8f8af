// Test support for the core's decision units: a job as a worker would hold it
// after claiming, and a fixed random draw for jitter.
#pragma once

#include <string>

#include "bullmq/job.hpp"

namespace testsupport {

// Job `id` named `name` of queue "q" with these stored options and counters.
inline bullmq::Job claimed_job(const std::string& opts, int attempts_made = 0,
                               int attempts_started = 1, const std::string& id = "1",
                               const std::string& name = "n") {
  bullmq::Job job = bullmq::Job::from_hash("q", id, {"name", name, "opts", opts});
  job.attempts_made = attempts_made;
  job.attempts_started = attempts_started;
  return job;
}

// A "uniform random" draw that always gives the middle of the range.
inline double half_draw() {
  return 0.5;
}

}  // namespace testsupport
