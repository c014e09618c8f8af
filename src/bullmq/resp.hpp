// RESP encoding and decoding: format_command() appends one command (an
// argument vector of binary-safe strings) to a buffer; RespParser turns bytes
// read from a socket into Reply values. A parser belongs to one connection
// and must be reset when that connection is.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bullmq/reply.hpp"

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

// Reads RESP2 replies. The parser owns the bytes received: the reader asks
// for room with prepare(), receives into it and reports how much arrived with
// commit(), so a reply is parsed where the socket put it (no copy into a
// second buffer). next() returns a reply once all of its bytes are there; a
// reply split across reads is scanned where the last scan stopped, so a large
// reply costs one pass however many reads it takes.
class RespParser {
 public:
  RespParser();
  RespParser(const RespParser&) = delete;
  RespParser& operator=(const RespParser&) = delete;

  // Writable room of at least `min_room` bytes (more when a partly received
  // bulk string is known to need more) at the end of the received bytes.
  // Valid until the next call of a member other than commit().
  std::span<char> prepare(std::size_t min_room);
  // `n` bytes were written at the start of the last prepare()'s room.
  void commit(std::size_t n);
  // prepare + copy + commit (tests, callers holding bytes already).
  void feed(std::string_view bytes);

  // The next complete reply, or nullopt when more bytes are needed. Throws
  // ProtocolError when the stream is not valid RESP2 (the parser is then
  // unusable until reset()).
  std::optional<Reply> next();
  // Forgets received bytes and any half-read reply (after a reconnect).
  void reset();

  // Bytes received and not yet returned as replies.
  std::size_t buffered() const { return size_ - pos_; }

 private:
  struct Line;  // one parsed `<type><text>\r\n` header
  bool read_line(std::size_t at, Line& line) const;
  bool scan();
  bool build(Reply& into, std::size_t& at, std::size_t depth) const;
  void grow(std::size_t min_room);

  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t pos_ = 0;   // first byte of the next reply
  std::size_t size_ = 0;  // end of the received bytes
  // The completeness scan of the reply at pos_: where it stopped, and the
  // elements still owed by each array it is inside (outermost first).
  std::size_t scan_pos_ = 0;
  std::vector<std::int64_t> open_arrays_;
  std::size_t wanted_ = 0;  // bytes past size_ the scan knows it needs
};

}  // namespace bullmq
