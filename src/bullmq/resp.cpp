#include "bullmq/resp.hpp"

#include <hiredis/hiredis.h>

#include <cstdlib>

#include "bullmq/error.hpp"

namespace bullmq {
namespace {

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

}  // namespace

namespace {

void append_bulk(std::string_view arg, std::string& out) {
  out += '$';
  out += std::to_string(arg.size());
  out += "\r\n";
  out += arg;
  out += "\r\n";
}

void append_header(std::size_t count, std::string& out) {
  out += '*';
  out += std::to_string(count);
  out += "\r\n";
}

}  // namespace

void format_command(const std::vector<std::string>& args, std::string& out) {
  // Same encoding hiredis's redisFormatCommandArgv produces, written straight
  // into the connection's output buffer to avoid an allocation per command.
  append_header(args.size(), out);
  for (const auto& a : args) append_bulk(a, out);
}

void format_script_call(std::string_view verb, std::string_view script, const std::vector<std::string>& keys,
                        const std::vector<std::string>& args, std::string& out) {
  std::size_t size = 64 + script.size();
  for (const auto& k : keys) size += k.size() + 16;
  for (const auto& a : args) size += a.size() + 16;
  out.reserve(out.size() + size);
  append_header(3 + keys.size() + args.size(), out);
  append_bulk(verb, out);
  append_bulk(script, out);
  append_bulk(std::to_string(keys.size()), out);
  for (const auto& k : keys) append_bulk(k, out);
  for (const auto& a : args) append_bulk(a, out);
}

RespParser::RespParser() : reader_(redisReaderCreate()) {
  if (!reader_) throw std::bad_alloc();
}

RespParser::~RespParser() {
  redisReaderFree(reader_);
}

void RespParser::feed(std::string_view bytes) {
  if (redisReaderFeed(reader_, bytes.data(), bytes.size()) != REDIS_OK) {
    throw ProtocolError("cannot buffer Redis reply bytes");
  }
}

std::optional<Reply> RespParser::next() {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
    std::string msg = "invalid RESP from Redis: ";
    msg += reader_->errstr;
    throw ProtocolError(msg);
  }
  if (!raw) return std::nullopt;
  auto* reply = static_cast<redisReply*>(raw);
  Reply out = convert(reply);
  freeReplyObject(reply);
  return out;
}

void RespParser::reset() {
  redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  if (!reader_) throw std::bad_alloc();
}

std::string Reply::describe() const {
  switch (type) {
    case Type::kNil:
      return "(nil)";
    case Type::kStatus:
      return str;
    case Type::kError:
      return "(error) " + str;
    case Type::kInteger:
      return "(integer) " + std::to_string(integer);
    case Type::kString:
      return str.size() > 80 ? "\"" + str.substr(0, 80) + "…\"" : "\"" + str + "\"";
    case Type::kArray: {
      std::string out = "[";
      for (std::size_t i = 0; i < elements.size(); ++i) {
        if (i) out += ", ";
        if (i == 8) {
          out += "…";
          break;
        }
        out += elements[i].describe();
      }
      return out + "]";
    }
  }
  return "?";
}

}  // namespace bullmq
