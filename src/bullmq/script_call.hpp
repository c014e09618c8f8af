// One invocation of a BullMQ script, fully built: which script, its KEYS and
// its ARGV. Values are RESP-encoded as they are added, so a call is a single
// buffer that sending copies once (ScriptRunner adds the EVALSHA/EVAL
// header in front). A value type; QueueScripts builds them, tests read them
// back with keys() and args().
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "bullmq/script_catalog.hpp"

namespace bullmq {

// Keys encoded once and added to many calls in one copy (the fixed queue
// keys every claim and finish sends).
struct EncodedKeys {
  std::string bytes;
  std::size_t count = 0;
};
EncodedKeys encode_keys(std::initializer_list<std::string_view> names);

class ScriptCall {
 public:
  explicit ScriptCall(ScriptId id);

  ScriptId id() const { return id_; }

  // KEYS, in the script's order; all keys come before the first argument.
  ScriptCall& key(std::string_view name);
  // A key made of two parts (`<prefix>:<queue>:` + job id) without building it first.
  ScriptCall& key(std::string_view base, std::string_view suffix);
  ScriptCall& keys(const EncodedKeys& block);
  // ARGV, in the script's order.
  ScriptCall& arg(std::string_view value);
  ScriptCall& arg(const char* value) { return arg(std::string_view(value)); }
  ScriptCall& arg(const std::string& value) { return arg(std::string_view(value)); }
  ScriptCall& arg(std::int64_t value);

  std::size_t key_count() const { return key_count_; }
  std::size_t arg_count() const { return arg_count_; }
  // The keys then the arguments, each as a RESP bulk string.
  std::string_view encoded() const { return std::string_view(buffer_.data(), size_); }

  // Decoded copies (tests, diagnostics).
  std::vector<std::string> keys() const;
  std::vector<std::string> args() const;

 private:
  std::vector<std::string> decode(std::size_t first, std::size_t count) const;
  // At least `n` bytes of room after size_.
  void make_room(std::size_t n);
  // Room for `n` more bytes at the end, counted as written; returns where they go.
  char* extend(std::size_t n);
  // Appends `$<len>\r\n<first><second>\r\n`.
  void put_bulk(std::string_view first, std::string_view second = {});

  ScriptId id_;
  std::size_t key_count_ = 0;
  std::size_t arg_count_ = 0;
  // [0, size_) is written; the rest is room, so appending a value is a few
  // memcpy calls instead of three checked string appends.
  std::string buffer_;
  std::size_t size_ = 0;
};

}  // namespace bullmq
