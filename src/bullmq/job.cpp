#include "bullmq/job.hpp"

#include <charconv>

namespace bullmq {
namespace {

std::int64_t to_int(const std::string& s) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  (void)ptr;
  return ec == std::errc() ? v : 0;
}

}  // namespace

Job Job::from_hash(std::string queue, std::string id, std::vector<std::string> flat) {
  Job job;
  job.queue = std::move(queue);
  job.id = std::move(id);
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) {
    const std::string_view field = flat[i];
    std::string& value = flat[i + 1];
    // Dispatch on the length first: one or two comparisons per field.
    switch (field.size()) {
      case 3:
        if (field == "atm") {
          job.attempts_made = static_cast<int>(to_int(value));
        } else if (field == "ats") {
          job.attempts_started = static_cast<int>(to_int(value));
        } else if (field == "stc") {
          job.stalled_counter = static_cast<int>(to_int(value));
        } else if (field == "rjk") {
          job.repeat_job_key = std::move(value);
        }
        break;
      case 4:
        if (field == "name") {
          job.name = std::move(value);
        } else if (field == "data") {
          job.data = std::move(value);
        } else if (field == "opts") {
          job.opts_json = std::move(value);
        } else if (field == "defa") {
          job.deferred_failure = std::move(value);
        }
        break;
      case 9:
        if (field == "timestamp") job.timestamp_ms = to_int(value);
        if (field == "parentKey") job.parent_key = std::move(value);
        break;
      case 10:
        if (field == "stacktrace") job.stacktrace_json = std::move(value);
        break;
      case 11:
        if (field == "processedOn") job.processed_on_ms = to_int(value);
        break;
      case 12:
        // Written by older producers; `atm` wins when both are there.
        if (field == "attemptsMade" && job.attempts_made == 0) {
          job.attempts_made = static_cast<int>(to_int(value));
        }
        break;
      default:
        break;
    }
  }
  job.opts_error = parse_job_options(job.opts_json, job.opts);
  return job;
}

}  // namespace bullmq
