// A Redis reply as a plain value tree (RESP2: nil, status, error, integer,
// bulk string, array). Built by RespParser; owned by whoever holds it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bullmq {

struct Reply {
  enum class Type { kNil, kStatus, kError, kInteger, kString, kArray };

  Type type = Type::kNil;
  std::int64_t integer = 0;
  std::string str;  // status, error or bulk string
  std::vector<Reply> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  bool is_integer() const { return type == Type::kInteger; }
  bool is_string() const { return type == Type::kString || type == Type::kStatus; }
  bool is_array() const { return type == Type::kArray; }

  // A short rendering for logs and error messages.
  std::string describe() const;
};

}  // namespace bullmq
