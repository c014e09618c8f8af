// Runs the embedded BullMQ scripts on a command connection: EVALSHA, and on a
// NOSCRIPT reply (Redis restarted, failed over, or SCRIPT FLUSH) EVAL with the
// body, which also caches it again. load_all() is the connect hook that
// SCRIPT LOADs every script the server lacks and checks Redis computed the
// embedded SHA1.
#pragma once

#include <string>
#include <vector>

#include "bullmq/asio.hpp"
#include "bullmq/redis_connection.hpp"
#include "bullmq/script_call.hpp"
#include "bullmq/script_catalog.hpp"

namespace bullmq {

class ScriptRunner {
 public:
  explicit ScriptRunner(RedisConnection& connection) : connection_(connection) {}

  // Runs `call` (its key count must match the script's). Returns the reply;
  // a Lua error comes back as ServerError naming the script.
  awaitable<Reply> run(ScriptCall call);

  // Connect hook: loads the scripts the server lacks, on a fresh connection.
  static awaitable<void> load_all(RedisConnection& connection);

  RedisConnection& connection() { return connection_; }

 private:
  RedisConnection& connection_;
};

}  // namespace bullmq
