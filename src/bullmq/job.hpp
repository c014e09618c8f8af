// A claimed job as the worker and processors see it: the fields of the job
// hash that matter on the worker side, decoded once at claim time. Plain
// value type; it owns its strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bullmq/job_options.hpp"

namespace bullmq {

struct Job {
  std::string queue;  // queue name (no prefix)
  std::string id;
  std::string name;
  std::string data = "{}";  // JSON text as stored by the producer
  std::string opts_json = "{}";
  JobOptions opts;

  std::int64_t timestamp_ms = 0;     // creation time
  std::int64_t processed_on_ms = 0;  // this claim's time
  int attempts_made = 0;             // finished runs before this one (`atm`)
  int attempts_started = 0;          // runs started, this one included (`ats`)
  int stalled_counter = 0;           // `stc`

  std::string deferred_failure;  // `defa`: fail at once with this reason
  std::string repeat_job_key;    // `rjk`: job scheduler id
  std::string parent_key;        // full key of the parent, flows only
  std::string stacktrace_json;   // stored `stacktrace` (JSON array) or empty

  // 1-based number of this run, as Node's `job.attemptsMade + 1`.
  int attempt() const { return attempts_made + 1; }

  // Builds a job from the flat field/value list of HGETALL. Unknown fields are
  // ignored; a malformed `opts` leaves defaults and is reported by
  // opts_error. Never throws.
  static Job from_hash(std::string queue, std::string id, std::vector<std::string> flat);

  // The same in steps, for callers that hold the pairs elsewhere: each
  // field/value pair (unknown fields are ignored), then parse_options().
  void apply_field(std::string_view field, std::string&& value);
  void parse_options();

  std::string opts_error;  // non-empty when `opts` could not be parsed
};

}  // namespace bullmq
