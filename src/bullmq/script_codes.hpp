// The negative replies of BullMQ's scripts, named at the script boundary:
// QueueScripts decodes a reply into a ScriptCode, and the rest of the worker
// speaks of kLockMismatch rather than -6. ScriptRefused is the typed error
// for a refusal that ends a call (the Job API of processors); the finishing
// path keeps the code as a value, since it decides on it
// (plan_after_refused_completion).
#pragma once

#include <cstdint>
#include <string>

#include "bullmq/error.hpp"

namespace bullmq {

enum class ScriptCode : int {
  kOk = 0,
  kJobMissing = -1,
  kLockMissing = -2,
  kNotActive = -3,
  kPendingDependencies = -4,
  kParentMissing = -5,
  kLockMismatch = -6,
  kParentCannotBeReplaced = -7,
  kBelongsToJobScheduler = -8,
  kFailedChildren = -9,
  kSchedulerIdCollision = -10,
  kSchedulerSlotsBusy = -11,
};

// A script's integer reply as a code: negative values keep their number
// (an unknown one too), anything else is kOk.
ScriptCode script_code(std::int64_t reply);

// The job's lock is not this run's (gone, or another token's).
inline bool is_lock_refusal(ScriptCode code) {
  return code == ScriptCode::kLockMissing || code == ScriptCode::kLockMismatch;
}

// Node's wording of a refusal of `script` for job `job_id`.
std::string describe(ScriptCode code, const std::string& job_id, const std::string& script);

// A script refused the call (a negative reply): permanent for this call.
class ScriptRefused : public Error {
 public:
  ScriptRefused(ScriptCode code, std::string message)
      : Error(std::move(message), false), code_(code) {}
  ScriptCode code() const { return code_; }

 private:
  ScriptCode code_;
};

}  // namespace bullmq
