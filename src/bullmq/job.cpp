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

void Job::apply_field(std::string_view field, std::string&& value) {
  // Dispatch on the length first: one or two comparisons per field.
  switch (field.size()) {
    case 3:
      if (field == "atm") {
        attempts_made = static_cast<int>(to_int(value));
      } else if (field == "ats") {
        attempts_started = static_cast<int>(to_int(value));
      } else if (field == "stc") {
        stalled_counter = static_cast<int>(to_int(value));
      } else if (field == "rjk") {
        repeat_job_key = std::move(value);
      }
      break;
    case 4:
      if (field == "name") {
        name = std::move(value);
      } else if (field == "data") {
        data = std::move(value);
      } else if (field == "opts") {
        opts_json = std::move(value);
      } else if (field == "defa") {
        deferred_failure = std::move(value);
      }
      break;
    case 9:
      if (field == "timestamp") timestamp_ms = to_int(value);
      if (field == "parentKey") parent_key = std::move(value);
      break;
    case 10:
      if (field == "stacktrace") stacktrace_json = std::move(value);
      break;
    case 11:
      if (field == "processedOn") processed_on_ms = to_int(value);
      break;
    case 12:
      // Written by older producers; `atm` wins when both are there.
      if (field == "attemptsMade" && attempts_made == 0) {
        attempts_made = static_cast<int>(to_int(value));
      }
      break;
    default:
      break;
  }
}

Job Job::from_hash(std::string queue, std::string id, std::vector<std::string> flat) {
  Job job;
  job.queue = std::move(queue);
  job.id = std::move(id);
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2)
    job.apply_field(flat[i], std::move(flat[i + 1]));
  job.parse_options();
  return job;
}

void Job::parse_options() {
  opts_error = parse_job_options(opts_json, opts);
}

}  // namespace bullmq
