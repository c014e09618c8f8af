#include "bullmq/resp.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "bullmq/error.hpp"

namespace bullmq {
namespace {

constexpr std::size_t kInitialCapacity = 64 * 1024;
// A buffer grown for one large reply goes back to the initial size once it
// has been read, so that one 100 MiB reply does not pin 100 MiB for the
// connection's lifetime.
constexpr std::size_t kKeepCapacity = 1024 * 1024;
// Redis's own limit for a bulk string (proto-max-bulk-len's default).
constexpr std::int64_t kMaxBulkLength = 512LL * 1024 * 1024;
// Replies nest a few levels at most; a deeper one is hostile or garbage.
constexpr std::size_t kMaxDepth = 64;

[[noreturn]] void invalid(const char* what) {
  throw ProtocolError(std::string("invalid RESP from Redis: ") + what);
}

}  // namespace

struct RespParser::Line {
  char type = 0;
  std::string_view text;    // between the type byte and CRLF
  std::int64_t number = 0;  // for '*', '$' and ':'
  std::size_t end = 0;      // the first byte after CRLF
};

RespParser::RespParser() : data_(new char[kInitialCapacity]), capacity_(kInitialCapacity) {}

void RespParser::grow(std::size_t min_room) {
  const std::size_t live = size_ - pos_;
  std::size_t capacity = capacity_;
  while (capacity - live < min_room) capacity *= 2;
  if (capacity == capacity_) {  // moving the live bytes to the front makes the room
    std::memmove(data_.get(), data_.get() + pos_, live);
  } else {
    std::unique_ptr<char[]> bigger(new char[capacity]);
    std::memcpy(bigger.get(), data_.get() + pos_, live);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }
  scan_pos_ -= pos_;
  size_ = live;
  pos_ = 0;
}

std::span<char> RespParser::prepare(std::size_t min_room) {
  if (pos_ == size_) {
    pos_ = size_ = scan_pos_ = 0;
    if (capacity_ > kKeepCapacity) {
      data_.reset(new char[kInitialCapacity]);
      capacity_ = kInitialCapacity;
    }
  }
  const std::size_t room = std::max(min_room, wanted_);
  if (capacity_ - size_ < room) grow(room);
  return {data_.get() + size_, capacity_ - size_};
}

void RespParser::commit(std::size_t n) {
  size_ += std::min(n, capacity_ - size_);
  wanted_ = n >= wanted_ ? 0 : wanted_ - n;
}

void RespParser::feed(std::string_view bytes) {
  const std::span<char> room = prepare(bytes.size());
  if (!bytes.empty()) std::memcpy(room.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

void RespParser::reset() {
  pos_ = size_ = scan_pos_ = wanted_ = 0;
  open_arrays_.clear();
  if (capacity_ > kKeepCapacity) {
    data_.reset(new char[kInitialCapacity]);
    capacity_ = kInitialCapacity;
  }
}

// Reads the header line at `at`; false when its CRLF has not arrived yet.
// Inlined into build() and scan(), its two callers: a call per line cost more
// than the parse of a short line itself.
[[gnu::always_inline]] inline bool RespParser::read_line(std::size_t at, Line& line) const {
  const char* p = data_.get() + at;
  const char* const end = data_.get() + size_;
  if (p >= end) return false;
  line.type = *p++;
  switch (line.type) {
    case '+':
    case '-': {
      const auto* lf =
          static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      if (!lf) return false;
      if (lf == p || lf[-1] != '\r') invalid("a line does not end with CRLF");
      line.text = std::string_view(p, static_cast<std::size_t>(lf - 1 - p));
      line.end = static_cast<std::size_t>(lf + 1 - data_.get());
      return true;
    }
    case ':':
    case '$':
    case '*': {
      const bool negative = p < end && *p == '-';
      p += negative;
      const char* const digits = p;
      std::uint64_t value = 0;
      unsigned d;
      while (p < end && (d = static_cast<unsigned char>(*p - '0')) < 10 && p - digits < 18) {
        value = value * 10 + d;
        ++p;
      }
      if (p == end) return false;
      if (*p != '\r' || p == digits) invalid("a malformed length or integer (at most 18 digits)");
      if (p + 1 == end) return false;
      if (p[1] != '\n') invalid("a line does not end with CRLF");
      const auto number =
          negative ? -static_cast<std::int64_t>(value) : static_cast<std::int64_t>(value);
      if (line.type != ':' && (number < -1 || (line.type == '$' && number > kMaxBulkLength)))
        invalid(number < -1 ? "a negative length" : "a bulk string over 512 MiB");
      line.number = number;
      line.end = static_cast<std::size_t>(p + 2 - data_.get());
      return true;
    }
    default:
      invalid("an unknown reply type byte");
  }
}

// Advances the scan of the reply at pos_ from where it stopped; true once all
// its bytes are here.
bool RespParser::scan() {
  wanted_ = 0;
  Line line;
  for (;;) {
    if (!read_line(scan_pos_, line)) return false;
    std::size_t next = line.end;
    if (line.type == '$' && line.number >= 0) {
      const auto body = static_cast<std::size_t>(line.number) + 2;
      if (size_ - next < body) {
        wanted_ = body - (size_ - next);
        return false;
      }
      next += body;
    }
    scan_pos_ = next;
    if (line.type == '*' && line.number > 0) {
      if (open_arrays_.size() == kMaxDepth) invalid("arrays nested too deep");
      open_arrays_.push_back(line.number);
      continue;
    }
    for (;;) {  // one element is complete: so may be the arrays it closes
      if (open_arrays_.empty()) return true;
      if (--open_arrays_.back() > 0) break;
      open_arrays_.pop_back();
    }
  }
}

// Builds the reply at `at` into `into` and moves `at` past it; false (with
// `into` half built) when some of its bytes have not arrived.
bool RespParser::build(Reply& into, std::size_t& at, std::size_t depth) const {
  Line line;
  if (!read_line(at, line)) return false;
  switch (line.type) {
    case '+':
      into.type = Reply::Type::kStatus;
      into.str.assign(line.text);
      break;
    case '-':
      into.type = Reply::Type::kError;
      into.str.assign(line.text);
      break;
    case ':':
      into.type = Reply::Type::kInteger;
      into.integer = line.number;
      break;
    case '$': {
      if (line.number < 0) break;  // nil
      const auto length = static_cast<std::size_t>(line.number);
      if (size_ - line.end < length + 2) return false;
      const char* body = data_.get() + line.end;
      if (body[length] != '\r' || body[length + 1] != '\n')
        invalid("a bulk string does not end with CRLF");
      into.type = Reply::Type::kString;
      into.str.append(body, length);  // empty: append skips assign's overlap checks
      at = line.end + length + 2;
      return true;
    }
    default: {                     // '*'
      if (line.number < 0) break;  // nil
      if (depth == kMaxDepth) invalid("arrays nested too deep");
      // Every element takes at least 3 bytes: no room is made for elements
      // whose bytes cannot all be here yet.
      const auto count = static_cast<std::size_t>(line.number);
      if (count > (size_ - line.end) / 3) return false;
      into.type = Reply::Type::kArray;
      into.elements.resize(count);
      at = line.end;
      for (Reply& element : into.elements)
        if (!build(element, at, depth + 1)) return false;
      return true;
    }
  }
  at = line.end;
  return true;
}

// A reply that arrived whole (the usual case) is built in one pass. One that
// did not is scanned, from where the last scan stopped, until all of it is
// here, and then built.
std::optional<Reply> RespParser::next() {
  const bool scanning = scan_pos_ != pos_;
  if (!scanning && pos_ == size_) return std::nullopt;
  std::optional<Reply> reply(std::in_place);
  std::size_t at = pos_;
  if (scanning || !build(*reply, at, 0)) {
    if (!scan()) return std::nullopt;
    *reply = Reply();
    at = pos_;
    build(*reply, at, 0);
  }
  pos_ = scan_pos_ = at;
  return reply;
}

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
