// RESP encoding and decoding: format_command() appends one command (an
// argument vector of binary-safe strings) to a buffer, as hiredis would;
// RespParser turns bytes read from a socket into Reply values. A parser
// belongs to one connection and must be reset when that connection is.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bullmq/reply.hpp"

struct redisReader;

namespace bullmq {

// Appends the RESP encoding of `args` to `out`.
void format_command(const std::vector<std::string>& args, std::string& out);

// Appends one bulk string (`$<len>\r\n<bytes>\r\n`) to `out`.
void append_bulk(std::string_view arg, std::string& out);

// The `<type><n>\r\n` that opens an array (`*3\r\n`) or a bulk string
// (`$5\r\n`), formatted on the stack for callers that write RESP themselves.
class RespLength {
 public:
  RespLength(char type, std::size_t n);
  std::string_view view() const { return std::string_view(text_, size_); }

 private:
  char text_[24];  // type, up to 20 digits, CRLF
  std::size_t size_;
};

class RespParser {
 public:
  RespParser();
  ~RespParser();
  RespParser(const RespParser&) = delete;
  RespParser& operator=(const RespParser&) = delete;

  // Adds bytes received from the server.
  void feed(std::string_view bytes);
  // The next complete reply, or nullopt when more bytes are needed. Throws
  // ProtocolError when the stream is not valid RESP.
  std::optional<Reply> next();
  // Forgets buffered bytes (after a reconnect).
  void reset();

 private:
  redisReader* reader_;
};

}  // namespace bullmq
