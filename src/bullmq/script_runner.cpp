#include "bullmq/script_runner.hpp"

#include <charconv>
#include <cstring>

#include "bullmq/redis_error_reply.hpp"
#include "bullmq/resp.hpp"
#include "bullmq/strings.hpp"

namespace bullmq {

namespace {

// `EVALSHA|EVAL <sha|body> <numkeys>`: what goes before the call's keys and
// arguments (ScriptCall::encoded()), appended to `out`.
template <typename Out>
void append_script_header(std::string_view verb, std::string_view script, const ScriptCall& call,
                          Out& out) {
  char numkeys[24];
  const std::string_view count(
      numkeys,
      static_cast<std::size_t>(
          std::to_chars(numkeys, numkeys + sizeof numkeys, call.key_count()).ptr - numkeys));
  out.append(RespLength('*', 3 + call.key_count() + call.arg_count()).view());
  for (std::string_view part : {verb, script, count}) {
    out.append(RespLength('$', part.size()).view());
    out.append(part);
    out.append("\r\n");
  }
}

// A fixed buffer on the caller's stack for the EVALSHA header (~80 bytes).
class HeaderBuffer {
 public:
  void append(std::string_view s) {
    if (s.size() > sizeof data_ - size_) throw ProtocolError("script call header too long");
    std::memcpy(data_ + size_, s.data(), s.size());
    size_ += s.size();
  }
  std::string_view view() const { return std::string_view(data_, size_); }

 private:
  char data_[128];
  std::size_t size_ = 0;
};

// An error reply as a ServerError: "<what>: <reply>", retryable when Redis
// refused for now (BUSY, LOADING, READONLY, MISCONF, OOM, NOPERM, …), not
// when the script itself failed.
[[noreturn]] void throw_error_reply(const std::string& what, const std::string& reply) {
  const RedisErrorReply error = classify_error_reply(reply);
  throw ServerError(what + ": " + reply, retryable_error(error.kind), error.code);
}

}  // namespace

awaitable<Reply> ScriptRunner::run(ScriptCall call) {
  const ScriptInfo& info = script_info(call.id());
  if (call.key_count() != static_cast<std::size_t>(info.num_keys)) {
    throw ProtocolError("script " + std::string(info.file) + " called with " +
                        std::to_string(call.key_count()) + " keys");
  }
  HeaderBuffer header;
  append_script_header("EVALSHA", info.sha1, call, header);
  Reply reply = co_await connection_.encoded_parts(header.view(), call.encoded());
  if (reply.is_error() && reply.str.rfind("NOSCRIPT", 0) == 0) {
    // Redis lost its script cache (restart, failover, SCRIPT FLUSH): EVAL
    // runs the body and caches it again.
    std::string eval;
    eval.reserve(64 + info.body.size() + call.encoded().size());
    append_script_header("EVAL", info.body, call, eval);
    eval += call.encoded();
    reply = co_await connection_.encoded(std::move(eval));
  }
  if (reply.is_error()) throw_error_reply("script " + std::string(info.file), reply.str);
  co_return std::move(reply);
}

// Which scripts the server lacks is asked first (SCRIPT EXISTS with every
// SHA1: a few hundred bytes), so only the first connection to reach a fresh
// server sends script text; the missing ones go as SCRIPT LOAD pipelines of at
// most ~64 KiB, encoded straight from the embedded bodies. (Sending all ~300
// KiB from every connection left that much heap behind per connection: ~0.5
// MiB of RSS each.) Redis's SHA1 of every body loaded is checked against ours.
awaitable<void> ScriptRunner::load_all(RedisConnection& connection) {
  std::vector<std::string> exists = strings("SCRIPT", "EXISTS");
  for (const auto& info : kScripts) exists.emplace_back(info.sha1);
  const Reply present = co_await connection.handshake_command(std::move(exists));
  if (present.is_error()) throw_error_reply("SCRIPT EXISTS failed", present.str);
  if (!present.is_array() || present.elements.size() != kScriptCount) {
    throw ProtocolError("SCRIPT EXISTS returned " + present.describe() + " for " +
                        std::to_string(kScriptCount) + " scripts");
  }
  constexpr std::size_t kLoadBatchBytes = 64 * 1024;
  std::string batch;
  std::vector<std::size_t> sent;  // kScripts indices of the SCRIPT LOADs in `batch`
  auto check = [&](const std::vector<Reply>& replies) {
    for (std::size_t i = 0; i < sent.size(); ++i) {
      const ScriptInfo& info = kScripts[sent[i]];
      const Reply& r = replies[i];
      if (r.is_error())
        throw_error_reply("SCRIPT LOAD " + std::string(info.file) + " failed", r.str);
      if (r.str != info.sha1) {
        throw ProtocolError("SCRIPT LOAD " + std::string(info.file) + " returned SHA1 " + r.str +
                            ", expected " + std::string(info.sha1));
      }
    }
  };
  for (std::size_t i = 0; i < kScriptCount; ++i) {
    const Reply& flag = present.elements[i];
    if (flag.is_integer() && flag.integer == 1) continue;
    batch.append(RespLength('*', 3).view());
    append_bulk("SCRIPT", batch);
    append_bulk("LOAD", batch);
    append_bulk(kScripts[i].body, batch);
    sent.push_back(i);
    if (batch.size() >= kLoadBatchBytes) {
      check(co_await connection.handshake_encoded(batch, sent.size()));
      batch.clear();
      sent.clear();
    }
  }
  if (!sent.empty()) check(co_await connection.handshake_encoded(batch, sent.size()));
}

}  // namespace bullmq
