// Structured logging: one line per event, JSON (default, for containers) or
// human-readable text, to stderr. Fields are key/value pairs; every job event
// carries queue, job_id, job_name and attempt. Thread-safe; one process-wide
// instance configured at start-up.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace bullmq {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };
enum class LogFormat { kJson, kText };

// Parses "debug|info|warn|warning|error|off" / "json|text"; false if unknown.
bool parse_log_level(std::string_view text, LogLevel& out);
bool parse_log_format(std::string_view text, LogFormat& out);

struct LogField {
  using Value = std::variant<std::string_view, std::int64_t, double, bool>;
  std::string_view key;
  Value value;

  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  LogField(std::string_view k, long v) : key(k), value(static_cast<std::int64_t>(v)) {}
  LogField(std::string_view k, long long v) : key(k), value(static_cast<std::int64_t>(v)) {}
  LogField(std::string_view k, unsigned long v) : key(k), value(static_cast<std::int64_t>(v)) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}

  // A field left out of the line when `v` is empty (a job's trace_id/span_id
  // when it has no span).
  static LogField unless_empty(std::string_view k, std::string_view v) {
    LogField f(k, v);
    f.omitted = v.empty();
    return f;
  }
  bool omitted = false;
};

class Logger {
 public:
  static Logger& instance();

  void configure(LogLevel level, LogFormat format) {
    level_.store(level);
    format_.store(format);
  }
  bool enabled(LogLevel level) const { return level >= level_.load(std::memory_order_relaxed); }

  // `event` is a stable dotted name ("job.completed"); `message` is for people.
  void log(LogLevel level, std::string_view event, std::string_view message,
           std::initializer_list<LogField> fields = {}) {
    log(level, event, message, fields, {});
  }
  // The fields of `context` (say, a job's queue, id and name), then `fields`.
  void log(LogLevel level, std::string_view event, std::string_view message,
           std::initializer_list<LogField> context, std::initializer_list<LogField> fields);

  void debug(std::string_view event, std::string_view message,
             std::initializer_list<LogField> f = {}) {
    if (enabled(LogLevel::kDebug)) log(LogLevel::kDebug, event, message, f);
  }
  void info(std::string_view event, std::string_view message,
            std::initializer_list<LogField> f = {}) {
    if (enabled(LogLevel::kInfo)) log(LogLevel::kInfo, event, message, f);
  }
  void warn(std::string_view event, std::string_view message,
            std::initializer_list<LogField> f = {}) {
    if (enabled(LogLevel::kWarn)) log(LogLevel::kWarn, event, message, f);
  }
  void error(std::string_view event, std::string_view message,
             std::initializer_list<LogField> f = {}) {
    if (enabled(LogLevel::kError)) log(LogLevel::kError, event, message, f);
  }

 private:
  std::atomic<LogLevel> level_{LogLevel::kInfo};
  std::atomic<LogFormat> format_{LogFormat::kJson};
};

inline Logger& logger() {
  return Logger::instance();
}

}  // namespace bullmq
