#include "bullmq/script_call.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
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
  buffer_.resize(1024);  // a moveToFinished with its keys fits; no regrowth on the hot path
}

void ScriptCall::make_room(std::size_t n) {
  if (buffer_.size() - size_ < n) buffer_.resize(std::max(buffer_.size() * 2, size_ + n));
}

char* ScriptCall::extend(std::size_t n) {
  make_room(n);
  char* at = buffer_.data() + size_;
  size_ += n;
  return at;
}

void ScriptCall::put_bulk(std::string_view first, std::string_view second) {
  // Written in place: `$`, up to 20 digits, CRLF, the bytes, CRLF.
  const std::size_t length = first.size() + second.size();
  make_room(length + 25);
  char* at = buffer_.data() + size_;
  *at++ = '$';
  at = std::to_chars(at, at + 20, length).ptr;
  *at++ = '\r';
  *at++ = '\n';
  if (!first.empty()) std::memcpy(at, first.data(), first.size());
  at += first.size();
  if (!second.empty()) std::memcpy(at, second.data(), second.size());
  at += second.size();
  *at++ = '\r';
  *at++ = '\n';
  size_ = static_cast<std::size_t>(at - buffer_.data());
}

ScriptCall& ScriptCall::key(std::string_view name) {
  if (arg_count_ != 0) throw std::logic_error("ScriptCall: a key added after the arguments");
  put_bulk(name);
  ++key_count_;
  return *this;
}

ScriptCall& ScriptCall::key(std::string_view base, std::string_view suffix) {
  if (arg_count_ != 0) throw std::logic_error("ScriptCall: a key added after the arguments");
  put_bulk(base, suffix);
  ++key_count_;
  return *this;
}

ScriptCall& ScriptCall::keys(const EncodedKeys& block) {
  if (arg_count_ != 0) throw std::logic_error("ScriptCall: a key added after the arguments");
  std::memcpy(extend(block.bytes.size()), block.bytes.data(), block.bytes.size());
  key_count_ += block.count;
  return *this;
}

ScriptCall& ScriptCall::arg(std::string_view value) {
  put_bulk(value);
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
    const std::string_view bytes = encoded();
    const std::size_t crlf = bytes.find("\r\n", pos);
    const std::size_t len = std::stoul(std::string(bytes.substr(pos + 1, crlf - pos - 1)));
    if (i >= first) out.emplace_back(bytes.substr(crlf + 2, len));
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
