// Job schedulers (BullMQ v6 repeatable jobs): when a scheduler iteration is
// claimed, the worker creates the next iteration before processing, as Node's
// worker does (protocol reference §11): cron patterns are computed here, in
// the scheduler's time zone; `every` is left to the script.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bullmq/asio.hpp"
#include "bullmq/job.hpp"
#include "bullmq/queue_scripts.hpp"

namespace bullmq {

// What the next iteration should be, computed from the claimed job alone.
struct NextIteration {
  std::optional<std::int64_t> next_ms;  // nullopt for `every` (the script computes it)
  std::string opts_json;                // the next job's opts (compressed keys kept)
};

// Returns nullopt when there is no next iteration (limit reached, past
// endDate, no cron match). Sets `error` and returns nullopt when the job's
// repeat options are unusable (bad pattern, unknown time zone).
std::optional<NextIteration> plan_next_iteration(const Job& job, std::int64_t now_ms,
                                                 std::string* error);

// True when `rjk` has the shape of a v5 legacy repeat key.
bool is_legacy_repeat_key(const std::string& rjk);

// Plans and stores the next iteration of `job` (a job with `rjk`). Errors are
// logged, never thrown: the current iteration is processed regardless.
awaitable<void> schedule_next_iteration(QueueScripts& scripts, const Job& job, std::int64_t now_ms);

}  // namespace bullmq
