// A claimed job as the worker sees it: the public view that processors get
// (bullmq_worker::Job) plus what only the worker needs (parsed options,
// deferred failure, scheduler key, …), decoded once at claim time from the
// job hash. Plain value type; it owns its strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bullmq/job_options.hpp"
#include "bullmq_worker/job.hpp"

namespace bullmq {

struct Job : bullmq_worker::Job {
  JobOptions opts;
  int stalled_counter = 0;  // `stc`

  std::string deferred_failure;  // `defa`: fail at once with this reason
  std::string repeat_job_key;    // `rjk`: job scheduler id
  std::string stacktrace_json;   // stored `stacktrace` (JSON array) or empty

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
