// bullmq-worker processor SDK: what a plugin registers when the worker loads
// it — processors by job name, the checks of the dependencies they report as
// unavailable, custom backoff strategies — and the configuration it gets.
//
// Thread-safety: a PluginSetup is used on the main thread, during the
// plugin's setup function only. PluginConfig is an immutable value.
// PluginLogger may be copied and used from any thread for the life of the
// process.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "bullmq_worker/processor.hpp"

namespace bullmq_worker {

// The plugin's own settings, from `--plugin-config NAME:KEY=VALUE` (any
// number) or `--plugin-config 'NAME:{"key": …}'` (JSON; its top-level
// strings, numbers and booleans are also readable with get()).
class PluginConfig {
 public:
  PluginConfig() = default;
  PluginConfig(std::map<std::string, std::string, std::less<>> values, std::string json)
      : values_(std::move(values)), json_(std::move(json)) {}

  std::optional<std::string> get(std::string_view key) const {
    auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }
  std::string get_or(std::string_view key, std::string fallback) const {
    auto value = get(key);
    return value ? *value : std::move(fallback);
  }
  const std::map<std::string, std::string, std::less<>>& values() const { return values_; }
  // The JSON text when the configuration was given as JSON, else empty.
  const std::string& json() const { return json_; }

 private:
  std::map<std::string, std::string, std::less<>> values_;
  std::string json_;
};

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Writes structured lines into the worker's log (JSON or text, as the worker
// is configured), tagged with the plugin's name.
class PluginLogger {
 public:
  using Sink = std::function<void(LogLevel, std::string_view event, std::string_view message)>;
  PluginLogger() = default;
  explicit PluginLogger(Sink sink) : sink_(std::move(sink)) {}
  void log(LogLevel level, std::string_view event, std::string_view message) const {
    if (sink_) sink_(level, event, message);
  }
  void info(std::string_view event, std::string_view message) const {
    log(LogLevel::kInfo, event, message);
  }
  void warn(std::string_view event, std::string_view message) const {
    log(LogLevel::kWarn, event, message);
  }
  void error(std::string_view event, std::string_view message) const {
    log(LogLevel::kError, event, message);
  }

 private:
  Sink sink_;
};

class PluginSetup {
 public:
  virtual ~PluginSetup() = default;

  virtual const PluginConfig& config() const = 0;
  virtual PluginLogger logger() const = 0;

  // Each throws std::runtime_error when the worker refuses the registration
  // (a job name already taken, an empty name); a setup function that lets it
  // through stops the worker at start with that message.
  virtual void add_processor(std::string job_name, std::shared_ptr<Processor> processor) = 0;
  // `check` tells when the dependency a processor reported down (by throwing
  // DependencyUnavailable with this name) answers again.
  virtual void add_dependency(std::string name, DependencyCheck check) = 0;
  // Jobs with `backoff: {type: <type>}` get their retry delays from it.
  virtual void add_backoff_strategy(std::string type, BackoffStrategy strategy) = 0;
};

}  // namespace bullmq_worker
