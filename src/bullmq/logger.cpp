#include "bullmq/logger.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace bullmq {
namespace {

std::mutex g_write_mutex;

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      break;
  }
  return "off";
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_value(std::string& out, const LogField::Value& v, bool json) {
  if (auto s = std::get_if<std::string_view>(&v)) {
    if (json) {
      append_json_string(out, *s);
    } else if (s->find_first_of(" \"=") != std::string_view::npos || s->empty()) {
      append_json_string(out, *s);
    } else {
      out += *s;
    }
  } else if (auto i = std::get_if<std::int64_t>(&v)) {
    out += std::to_string(*i);
  } else if (auto d = std::get_if<double>(&v)) {
    if (!std::isfinite(*d)) {
      out += json ? "null" : "nan";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", *d);
      out += buf;
    }
  } else {
    out += std::get<bool>(v) ? "true" : "false";
  }
}

std::string timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

Logger& Logger::instance() {
  static Logger logger;
  return logger;
}

bool parse_log_level(std::string_view text, LogLevel& out) {
  if (text == "debug" || text == "trace")
    out = LogLevel::kDebug;
  else if (text == "info")
    out = LogLevel::kInfo;
  else if (text == "warn" || text == "warning")
    out = LogLevel::kWarn;
  else if (text == "error")
    out = LogLevel::kError;
  else if (text == "off" || text == "silent")
    out = LogLevel::kOff;
  else
    return false;
  return true;
}

bool parse_log_format(std::string_view text, LogFormat& out) {
  if (text == "json")
    out = LogFormat::kJson;
  else if (text == "text")
    out = LogFormat::kText;
  else
    return false;
  return true;
}

void Logger::log(LogLevel level, std::string_view event, std::string_view message,
                 std::initializer_list<LogField> context, std::initializer_list<LogField> extra) {
  if (!enabled(level)) return;
  const bool json = format_.load(std::memory_order_relaxed) == LogFormat::kJson;
  std::string line;
  line.reserve(256);
  if (json) {
    line += "{\"ts\":\"";
    line += timestamp();
    line += "\",\"level\":\"";
    line += level_name(level);
    line += "\",\"event\":";
    append_json_string(line, event);
    line += ",\"msg\":";
    append_json_string(line, message);
    for (const auto& fields : {context, extra}) {
      for (const auto& f : fields) {
        if (f.omitted) continue;
        line += ',';
        append_json_string(line, f.key);
        line += ':';
        append_value(line, f.value, true);
      }
    }
    line += "}\n";
  } else {
    line += timestamp();
    line += ' ';
    line += level_name(level);
    line += ' ';
    line += event;
    line += ": ";
    line += message;
    for (const auto& fields : {context, extra}) {
      for (const auto& f : fields) {
        if (f.omitted) continue;
        line += ' ';
        line += f.key;
        line += '=';
        append_value(line, f.value, false);
      }
    }
    line += '\n';
  }
  std::lock_guard lock(g_write_mutex);
  // One write per line so lines from several threads never interleave.
  std::size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace bullmq
