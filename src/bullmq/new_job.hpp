// A job a processor adds (JobContext::add_job), prepared the way Node's
// Queue.add / Job.create prepares it: the options finalized and checked as
// Job.validateOptions does, stored under Node's short keys, the parent link
// of a flow child, and the addStandardJob / addDelayedJob / addPrioritizedJob
// call that inserts it. Pure functions; the Worker runs the call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bullmq/keys.hpp"
#include "bullmq/script_call.hpp"
#include "bullmq_worker/job_context.hpp"

namespace bullmq {

// The flow parent of a new job: its id and its queue key ("bull:q").
struct NewJobParent {
  std::string id;
  std::string queue_key;
};

struct NewJobPlan {
  enum class Kind { kStandard, kDelayed, kPrioritized } kind = Kind::kStandard;
  std::string name;
  std::string data;         // JSON text, stored as given
  std::string opts_json;    // the finalized options, Node's long names (JobsOptions)
  std::string packed_opts;  // msgpack of the stored options (short names: de, fpof, kl, …)
  std::string packed_args;  // msgpack of the script's argument array
  std::string parent_key;   // "bull:q:id" of the flow parent, or empty
  std::string job_id;       // the custom jobId, or empty (Redis numbers the job)
};

// Prepares `job` for the queue whose keys are `target`. `as_child_of` is the
// running job when job.as_child is set (the caller fills it); a `parent`
// option in job.opts is honoured otherwise, as Node's Queue.add does.
// Throws std::invalid_argument, with the job's name and what is wrong, for
// input Node would refuse (bad JSON, integer jobId, options that exclude each
// other, …). `telemetry_metadata`, when not empty, is the trace context the
// job carries on (opts.telemetry.metadata, as Node's Queue.add under a tracer).
NewJobPlan plan_new_job(const bullmq_worker::NewJob& job, const QueueKeys& target,
                        const std::optional<NewJobParent>& as_child_of, std::int64_t now_ms,
                        const std::string& telemetry_metadata = {});

// The lock a child's insertion depends on: the running parent's lock key and
// its run's token. With it, the add script (its *IfLocked form) inserts
// nothing and replies -2 / -6 unless the parent is still locked by that run.
struct ParentLock {
  std::string lock_key;
  std::string token;
};

// The script call inserting `plan` into the queue whose keys are `target`.
ScriptCall add_job_call(const QueueKeys& target, const NewJobPlan& plan,
                        const std::optional<ParentLock>& parent_lock = std::nullopt);

// Node's wording of an add script's negative reply (-2 / -6: the parent's
// lock, see ParentLock).
std::string add_job_error_message(int code, const NewJobPlan& plan);

}  // namespace bullmq
