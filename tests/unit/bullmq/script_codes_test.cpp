#include "bullmq/script_codes.hpp"

#include <doctest/doctest.h>

using namespace bullmq;

TEST_CASE("a script's integer reply becomes a named code; non-negative replies are ok") {
  CHECK(script_code(0) == ScriptCode::kOk);
  CHECK(script_code(3) == ScriptCode::kOk);
  CHECK(script_code(-2) == ScriptCode::kLockMissing);
  CHECK(script_code(-6) == ScriptCode::kLockMismatch);
  CHECK(script_code(-9) == ScriptCode::kFailedChildren);
  CHECK(static_cast<int>(script_code(-42)) == -42);  // an unknown code keeps its number
  CHECK(is_lock_refusal(ScriptCode::kLockMissing));
  CHECK(is_lock_refusal(ScriptCode::kLockMismatch));
  CHECK_FALSE(is_lock_refusal(ScriptCode::kNotActive));
}

TEST_CASE("refusals are described in Node's words") {
  CHECK(describe(ScriptCode::kLockMissing, "5", "moveToFinished") ==
        "Missing lock for job 5. moveToFinished");
  CHECK(describe(ScriptCode::kLockMismatch, "5", "moveToFinished") ==
        "Lock mismatch for job 5. Cmd moveToFinished from active");
  CHECK(describe(ScriptCode::kFailedChildren, "5", "moveToFinished") ==
        "Cannot complete job 5 because it has at least one failed child. moveToFinished");
  CHECK(describe(ScriptCode::kPendingDependencies, "5", "moveToFinished") ==
        "Job 5 has pending dependencies. moveToFinished");
  CHECK(describe(script_code(-42), "5", "retryJob") == "Unknown code -42 error for 5. retryJob");
  ScriptRefused refused(ScriptCode::kNotActive, describe(ScriptCode::kNotActive, "5", "x"));
  CHECK(refused.code() == ScriptCode::kNotActive);
  CHECK_FALSE(refused.retryable());
}

TEST_CASE("the core's errors are classified as the database's and extraction's are") {
  const common::ClassifiedError& lost = ConnectionError("connection lost");
  CHECK(lost.retry() == common::Retry::kRetryable);
  const common::ClassifiedError& refused = ScriptRefused(ScriptCode::kLockMismatch, "mismatch");
  CHECK(refused.retry() == common::Retry::kPermanent);
}
