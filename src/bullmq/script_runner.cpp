#include "bullmq/script_runner.hpp"

#include <charconv>

#include "bullmq/resp.hpp"
#include "bullmq/strings.hpp"

namespace bullmq {

namespace {

// `EVALSHA|EVAL <sha|body> <numkeys> keys… args…`
std::string script_command(std::string_view verb, std::string_view script, const ScriptCall& call) {
  char numkeys[24];
  auto [end, ec] = std::to_chars(numkeys, numkeys + sizeof numkeys, call.key_count());
  (void)ec;
  std::string out;
  out.reserve(64 + script.size() + call.encoded().size());
  append_array_header(3 + call.key_count() + call.arg_count(), out);
  append_bulk(verb, out);
  append_bulk(script, out);
  append_bulk(std::string_view(numkeys, static_cast<std::size_t>(end - numkeys)), out);
  out += call.encoded();
  return out;
}

}  // namespace

awaitable<Reply> ScriptRunner::run(ScriptCall call) {
  const ScriptInfo& info = script_info(call.id());
  if (call.key_count() != static_cast<std::size_t>(info.num_keys)) {
    throw ProtocolError("script " + std::string(info.file) + " called with " +
                        std::to_string(call.key_count()) + " keys");
  }
  Reply reply = co_await connection_.encoded(script_command("EVALSHA", info.sha1, call));
  if (reply.is_error() && reply.str.rfind("NOSCRIPT", 0) == 0) {
    // Redis lost its script cache (restart, failover, SCRIPT FLUSH): EVAL
    // runs the body and caches it again.
    reply = co_await connection_.encoded(script_command("EVAL", info.body, call));
  }
  if (reply.is_error()) {
    // BUSY / LOADING / READONLY (failover) can clear up; a Lua error cannot.
    const bool retryable = reply.str.rfind("BUSY", 0) == 0 || reply.str.rfind("LOADING", 0) == 0 ||
                           reply.str.rfind("READONLY", 0) == 0 ||
                           reply.str.rfind("TRYAGAIN", 0) == 0;
    throw ServerError("script " + std::string(info.file) + ": " + reply.str, retryable);
  }
  co_return std::move(reply);
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
