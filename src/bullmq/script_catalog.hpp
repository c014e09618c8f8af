// The BullMQ Lua scripts this worker calls, embedded at build time from the
// pinned npm package (see lua/embed-scripts.mjs). The table is immutable and
// lives for the whole program; callers refer to scripts by ScriptId.
#pragma once

#include <cstddef>
#include <string_view>

namespace bullmq {

// Same order as the `wanted` list in lua/embed-scripts.mjs.
enum class ScriptId : std::size_t {
  kMoveToActive,
  kMoveToFinished,
  kMoveToDelayed,
  kRetryJob,
  kMoveJobFromActiveToWait,
  kMoveToWaitingChildren,
  kMoveStalledJobsToWait,
  kExtendLocks,
  kExtendLock,
  // The *IfLocked scripts: BullMQ's script behind a check that the job's lock
  // (one more KEY) holds the run's token (one more ARGV); -2 / -6 otherwise.
  kUpdateProgressIfLocked,
  kAddLogIfLocked,
  kUpdateDataIfLocked,
  kUpdateJobScheduler,
  kGetDependencyCounts,
  kAddStandardJob,
  kAddDelayedJob,
  kAddPrioritizedJob,
  kRemoveUnprocessedChildrenIfLocked,
  kAddStandardJobIfLocked,
  kAddDelayedJobIfLocked,
  kAddPrioritizedJobIfLocked,
};
inline constexpr std::size_t kScriptCount = 21;

struct ScriptInfo {
  std::string_view name;  // e.g. "moveToActive", "updateProgressIfLocked"
  std::string_view file;  // e.g. "moveToActive-11"
  int num_keys;
  std::string_view sha1;  // hex SHA1 of body, as Redis computes it
  std::string_view body;  // flattened Lua source
};

extern const char* const kBullmqVersion;  // e.g. "6.7.0"
extern const ScriptInfo kScripts[kScriptCount];

inline const ScriptInfo& script_info(ScriptId id) {
  return kScripts[static_cast<std::size_t>(id)];
}

}  // namespace bullmq
