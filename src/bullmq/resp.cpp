#include "bullmq/resp.hpp"

#include <hiredis/hiredis.h>

#include <charconv>
#include <cstdlib>
#include <memory>

#include "bullmq/error.hpp"

namespace bullmq {
namespace {

// hiredis's reader calls these to build each reply directly as a Reply tree
// (no intermediate redisReply objects to allocate, copy and free).
Reply* slot_for(const redisReadTask* task) {
  if (task->parent) {
    auto* parent = static_cast<Reply*>(task->parent->obj);
    return &parent->elements[static_cast<std::size_t>(task->idx)];
  }
  return new Reply();
}

void* create_string(const redisReadTask* task, char* data, std::size_t len) {
  Reply* r = slot_for(task);
  r->type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::kError
            : task->type == REDIS_REPLY_STATUS ? Reply::Type::kStatus
                                               : Reply::Type::kString;
  r->str.assign(data, len);
  return r;
}

void* create_array(const redisReadTask* task, int elements) {
  Reply* r = slot_for(task);
  r->type = Reply::Type::kArray;
  r->elements.resize(static_cast<std::size_t>(elements > 0 ? elements : 0));
  return r;
}

void* create_integer(const redisReadTask* task, long long value) {
  Reply* r = slot_for(task);
  r->type = Reply::Type::kInteger;
  r->integer = value;
  return r;
}

void* create_nil(const redisReadTask* task) {
  Reply* r = slot_for(task);
  r->type = Reply::Type::kNil;
  return r;
}

// Only ever called on a root object (hiredis frees trees from the top).
void free_reply(void* reply) {
  delete static_cast<Reply*>(reply);
}

redisReplyObjectFunctions kReplyFunctions = {create_string, create_array, create_integer,
                                             create_nil, free_reply};

}  // namespace

RespLength::RespLength(char type, std::size_t n) {
  text_[0] = type;
  char* end = std::to_chars(text_ + 1, text_ + sizeof text_ - 2, n).ptr;  // 20 digits fit
  *end++ = '\r';
  *end++ = '\n';
  size_ = static_cast<std::size_t>(end - text_);
}

void append_bulk(std::string_view arg, std::string& out) {
  out += RespLength('$', arg.size()).view();
  out += arg;
  out += "\r\n";
}

void format_command(const std::vector<std::string>& args, std::string& out) {
  out += RespLength('*', args.size()).view();
  for (const auto& a : args) append_bulk(a, out);
}

RespParser::RespParser() : reader_(redisReaderCreateWithFunctions(&kReplyFunctions)) {
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
  std::unique_ptr<Reply> reply(static_cast<Reply*>(raw));
  return std::move(*reply);
}

void RespParser::reset() {
  redisReaderFree(reader_);
  reader_ = redisReaderCreateWithFunctions(&kReplyFunctions);
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
