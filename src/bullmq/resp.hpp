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

// The pieces of a command, for callers that encode arguments as they go:
// `*<count>`, one bulk string, and one bulk string made of two parts.
void append_array_header(std::size_t count, std::string& out);
void append_bulk(std::string_view arg, std::string& out);
void append_bulk_parts(std::string_view first, std::string_view second, std::string& out);

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
