#include "bullmq/script_runner.hpp"

#include "bullmq/resp.hpp"
#include "bullmq/strings.hpp"

namespace bullmq {

awaitable<Reply> ScriptRunner::run(ScriptId id, std::vector<std::string> keys,
                                   std::vector<std::string> args) {
  const ScriptInfo& info = script_info(id);
  if (static_cast<int>(keys.size()) != info.num_keys) {
    throw ProtocolError("script " + std::string(info.file) + " called with " +
                        std::to_string(keys.size()) + " keys");
  }
  std::string resp;
  format_script_call("EVALSHA", info.sha1, keys, args, resp);
  Reply reply = co_await connection_.encoded(std::move(resp));
  if (reply.is_error() && reply.str.rfind("NOSCRIPT", 0) == 0) {
    // Redis lost its script cache (restart, failover, SCRIPT FLUSH): EVAL
    // runs the body and caches it again.
    std::string eval;
    format_script_call("EVAL", info.body, keys, args, eval);
    reply = co_await connection_.encoded(std::move(eval));
  }
  if (reply.is_error()) {
    // BUSY / LOADING / READONLY (failover) can clear up; a Lua error cannot.
    const bool retryable = reply.str.rfind("BUSY", 0) == 0 || reply.str.rfind("LOADING", 0) == 0 ||
                           reply.str.rfind("READONLY", 0) == 0 ||
                           reply.str.rfind("TRYAGAIN", 0) == 0;
    throw ServerError("script " + std::string(info.file) + ": " + reply.str, retryable);
  }
  co_return reply;
}

awaitable<void> ScriptRunner::load_all(RedisConnection& connection) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(kScriptCount);
  for (const auto& info : kScripts)
    commands.push_back(strings("SCRIPT", "LOAD", std::string(info.body)));
  auto replies = co_await connection.handshake_pipeline(commands);
  for (std::size_t i = 0; i < kScriptCount; ++i) {
    const auto& r = replies[i];
    if (r.is_error()) {
      throw ServerError("SCRIPT LOAD " + std::string(kScripts[i].file) + " failed: " + r.str, true);
    }
    if (r.str != kScripts[i].sha1) {
      throw ProtocolError("SCRIPT LOAD " + std::string(kScripts[i].file) + " returned SHA1 " +
                          r.str + ", expected " + std::string(kScripts[i].sha1));
    }
  }
}

}  // namespace bullmq
