// The Redis side of keeping job locks alive, as the LockManager sees it:
// QueueScripts implements it with BullMQ's extendLocks script; unit tests
// give the LockManager a fake.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bullmq/asio.hpp"

namespace bullmq {

// What the lock manager needs from Redis.
class LockStore {
 public:
  virtual ~LockStore() = default;
  // Sets the locks of `job_ids` (held with `tokens`, same order) to expire in
  // `duration_ms`; returns the ids whose lock is gone or another token's.
  virtual awaitable<std::vector<std::string>> extend_locks(std::vector<std::string> job_ids,
                                                           std::vector<std::string> tokens,
                                                           std::int64_t duration_ms) = 0;
};

}  // namespace bullmq
