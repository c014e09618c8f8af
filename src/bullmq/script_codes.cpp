#include "bullmq/script_codes.hpp"

namespace bullmq {

ScriptCode script_code(std::int64_t reply) {
  return reply < 0 ? static_cast<ScriptCode>(reply) : ScriptCode::kOk;
}

std::string describe(ScriptCode code, const std::string& job_id, const std::string& script) {
  switch (code) {
    case ScriptCode::kJobMissing:
      return "Missing key for job " + job_id + ". " + script;
    case ScriptCode::kLockMissing:
      return "Missing lock for job " + job_id + ". " + script;
    case ScriptCode::kNotActive:
      return "Job " + job_id + " is not in the active state. " + script;
    case ScriptCode::kPendingDependencies:
      return "Job " + job_id + " has pending dependencies. " + script;
    case ScriptCode::kLockMismatch:
      return "Lock mismatch for job " + job_id + ". Cmd " + script + " from active";
    case ScriptCode::kFailedChildren:
      return "Cannot complete job " + job_id + " because it has at least one failed child. " +
             script;
    default: {
      std::string text = "Unknown code ";
      text += std::to_string(static_cast<int>(code));
      text += " error for ";
      text += job_id;
      text += ". ";
      text += script;
      return text;
    }
  }
}

}  // namespace bullmq
