#include "bullmq/redis_error_reply.hpp"

#include <charconv>

namespace bullmq {
namespace {

struct Code {
  std::string_view word;
  RedisErrorKind kind;
};

constexpr Code kCodes[] = {
    {"MOVED", RedisErrorKind::kMoved},
    {"ASK", RedisErrorKind::kAsk},
    {"TRYAGAIN", RedisErrorKind::kTryAgain},
    {"READONLY", RedisErrorKind::kReadOnly},
    {"UNBLOCKED", RedisErrorKind::kUnblocked},
    {"CLUSTERDOWN", RedisErrorKind::kClusterDown},
    {"MASTERDOWN", RedisErrorKind::kMasterDown},
    {"LOADING", RedisErrorKind::kLoading},
    {"BUSY", RedisErrorKind::kBusy},
    {"MISCONF", RedisErrorKind::kMisconf},
    {"OOM", RedisErrorKind::kOom},
    {"NOAUTH", RedisErrorKind::kNoAuth},
    {"WRONGPASS", RedisErrorKind::kWrongPass},
    {"NOPERM", RedisErrorKind::kNoPerm},
    {"NOSCRIPT", RedisErrorKind::kNoScript},
    {"CROSSSLOT", RedisErrorKind::kCrossSlot},
};

// "slot host:port" after MOVED / ASK; the host may be an IPv6 literal
// (its last colon separates the port) or empty (the node we asked).
bool parse_redirect(std::string_view rest, int& slot, RedisAddress& target) {
  auto space = rest.find(' ');
  if (space == std::string_view::npos) return false;
  std::string_view slot_text = rest.substr(0, space);
  std::string_view where = rest.substr(space + 1);
  if (auto end = where.find(' '); end != std::string_view::npos) where = where.substr(0, end);
  auto [p, ec] = std::from_chars(slot_text.data(), slot_text.data() + slot_text.size(), slot);
  if (ec != std::errc() || p != slot_text.data() + slot_text.size() || slot < 0 || slot > 16383)
    return false;
  auto colon = where.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = where.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::string_view port = where.substr(colon + 1);
  unsigned value = 0;
  auto [q, ec2] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec2 != std::errc() || q != port.data() + port.size() || value == 0 || value > 65535)
    return false;
  target.host = std::string(host);
  target.port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace

RedisErrorKind error_kind_of_code(std::string_view code) {
  for (const auto& c : kCodes) {
    if (code == c.word) return c.kind;
  }
  return RedisErrorKind::kOther;
}

RedisErrorReply classify_error_reply(std::string_view text) {
  RedisErrorReply out;
  std::string_view word = text.substr(0, text.find(' '));
  out.code = std::string(word);
  out.kind = error_kind_of_code(word);
  if (out.kind == RedisErrorKind::kMoved || out.kind == RedisErrorKind::kAsk) {
    std::string_view rest = word.size() < text.size() ? text.substr(word.size() + 1) : "";
    if (!parse_redirect(rest, out.slot, out.target)) out.kind = RedisErrorKind::kOther;
  }
  return out;
}

bool blocks_claiming(RedisErrorKind kind) {
  switch (kind) {
    case RedisErrorKind::kMoved:
    case RedisErrorKind::kAsk:
    case RedisErrorKind::kReadOnly:
    case RedisErrorKind::kClusterDown:
    case RedisErrorKind::kMasterDown:
    case RedisErrorKind::kLoading:
    case RedisErrorKind::kBusy:
    case RedisErrorKind::kMisconf:
    case RedisErrorKind::kOom:
    case RedisErrorKind::kNoAuth:
    case RedisErrorKind::kWrongPass:
    case RedisErrorKind::kNoPerm:
    case RedisErrorKind::kCrossSlot:
      return true;
    default:
      return false;
  }
}

bool retryable_error(RedisErrorKind kind) {
  switch (kind) {
    case RedisErrorKind::kOther:
    case RedisErrorKind::kCrossSlot:
    case RedisErrorKind::kNoScript:
      return false;
    default:
      return true;
  }
}

}  // namespace bullmq
