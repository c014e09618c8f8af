#include "bullmq/script_call.hpp"

#include <charconv>
#include <stdexcept>

#include "bullmq/resp.hpp"

namespace bullmq {

EncodedKeys encode_keys(std::initializer_list<std::string_view> names) {
  EncodedKeys out;
  for (auto name : names) append_bulk(name, out.bytes);
  out.count = names.size();
  return out;
}

ScriptCall::ScriptCall(ScriptId id) : id_(id) {
  encoded_.reserve(1024);  // a moveToFinished with its keys fits; no regrowth on the hot path
}

ScriptCall& ScriptCall::key(std::string_view name) {
  if (arg_count_ != 0) throw std::logic_error("ScriptCall: a key added after the arguments");
  append_bulk(name, encoded_);
  ++key_count_;
  return *this;
}

ScriptCall& ScriptCall::key(std::string_view base, std::string_view suffix) {
  if (arg_count_ != 0) throw std::logic_error("ScriptCall: a key added after the arguments");
  append_bulk_parts(base, suffix, encoded_);
  ++key_count_;
  return *this;
}

ScriptCall& ScriptCall::keys(const EncodedKeys& block) {
  if (arg_count_ != 0) throw std::logic_error("ScriptCall: a key added after the arguments");
  encoded_ += block.bytes;
  key_count_ += block.count;
  return *this;
}

ScriptCall& ScriptCall::arg(std::string_view value) {
  append_bulk(value, encoded_);
  ++arg_count_;
  return *this;
}

ScriptCall& ScriptCall::arg(std::int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  (void)ec;  // 24 characters always hold an int64
  return arg(std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

std::vector<std::string> ScriptCall::decode(std::size_t first, std::size_t count) const {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < first + count; ++i) {
    // "$<len>\r\n<bytes>\r\n", as append_bulk wrote it.
    const std::size_t crlf = encoded_.find("\r\n", pos);
    const std::size_t len = std::stoul(encoded_.substr(pos + 1, crlf - pos - 1));
    if (i >= first) out.push_back(encoded_.substr(crlf + 2, len));
    pos = crlf + 2 + len + 2;
  }
  return out;
}

std::vector<std::string> ScriptCall::keys() const {
  return decode(0, key_count_);
}
std::vector<std::string> ScriptCall::args() const {
  return decode(key_count_, arg_count_);
}

}  // namespace bullmq
