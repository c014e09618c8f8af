#include "app/config.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

namespace app {
namespace {

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void keep_jobs(Writer& w, const char* key, const std::optional<bullmq::KeepJobs>& k) {
  w.Key(key);
  if (!k) {
    w.Null();
    return;
  }
  w.StartObject();
  if (k->count) {
    w.Key("count");
    w.Int64(*k->count);
  }
  if (k->age_seconds) {
    w.Key("age");
    w.Int64(*k->age_seconds);
  }
  if (k->limit) {
    w.Key("limit");
    w.Int64(*k->limit);
  }
  w.EndObject();
}

const char* level_name(bullmq::LogLevel level) {
  switch (level) {
    case bullmq::LogLevel::kDebug:
      return "debug";
    case bullmq::LogLevel::kInfo:
      return "info";
    case bullmq::LogLevel::kWarn:
      return "warn";
    case bullmq::LogLevel::kError:
      return "error";
    case bullmq::LogLevel::kOff:
      break;
  }
  return "off";
}

}  // namespace

std::string mask_url_password(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  auto at = url.find('@', scheme + 3);
  if (at == std::string::npos) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

bool RunConfig::uses_processor_set(std::string_view set) const {
  std::string_view rest = processors;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    if (rest.substr(0, comma) == set) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

namespace {
// Plugin settings whose values --print-config hides.
bool secret_setting(std::string_view key) {
  for (std::string_view word : {"password", "secret", "token", "credential"}) {
    if (key.find(word) != std::string_view::npos) return true;
  }
  return false;
}
}  // namespace

std::string describe_config(const RunConfig& c) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  const auto& o = c.worker;
  w.StartObject();
  w.Key("queues");
  w.StartArray();
  for (const auto& q : c.queues) {
    w.StartObject();
    w.Key("name");
    w.String(q.name.c_str());
    w.Key("concurrency");
    w.Int(q.concurrency);
    w.EndObject();
  }
  w.EndArray();
  w.Key("redis");
  w.String(c.redis.describe().c_str());
  w.Key("redis_tls");
  if (c.redis.tls.enabled) {
    const auto& t = c.redis.tls;  // file paths only, never their contents
    w.StartObject();
    w.Key("verify");
    w.Bool(t.verify);
    w.Key("ca_file");
    w.String(t.ca_file.c_str());
    w.Key("cert_file");
    w.String(t.cert_file.c_str());
    w.Key("key_file");
    w.String(t.key_file.c_str());
    w.Key("server_name");
    w.String(t.server_name.c_str());
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("redis_timeout_ms");
  w.Int64(c.redis.timeout_ms);
  w.Key("redis_keepalive_s");
  w.Int(c.redis.keepalive_s);
  w.Key("prefix");
  w.String(o.prefix.c_str());
  w.Key("processors");
  w.String(c.processors.c_str());
  w.Key("plugins");
  w.StartArray();
  for (const auto& plugin : c.plugins) w.String(plugin.c_str());
  w.EndArray();
  w.Key("plugin_config");
  w.StartObject();
  for (const auto& [name, settings] : c.plugin_settings) {
    w.Key(name.c_str());
    w.StartObject();
    for (const auto& [key, value] : settings.values) {
      w.Key(key.c_str());
      w.String(secret_setting(key) ? "***" : mask_url_password(value).c_str());
    }
    w.EndObject();
  }
  w.EndObject();
  w.Key("commands");  // arguments left out: they may carry secrets
  w.StartArray();
  for (const auto& command : c.commands) {
    w.StartObject();
    w.Key("name");
    w.String(command.job_name.c_str());
    w.Key("program");
    w.String(command.program.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.Key("command_limits");
  w.StartObject();
  w.Key("timeout_ms");
  w.Int64(c.command_limits.timeout.count());
  w.Key("memory_bytes");
  w.Uint64(c.command_limits.memory_bytes);
  w.Key("cpu_seconds");
  w.Uint64(c.command_limits.cpu_seconds);
  w.Key("open_files");
  w.Uint64(c.command_limits.open_files);
  w.Key("max_output_bytes");
  w.Uint64(c.command_limits.max_output_bytes);
  w.Key("kill_grace_ms");
  w.Int64(c.command_limits.kill_grace.count());
  w.EndObject();
  w.Key("lock_duration_ms");
  w.Int64(o.lock_duration_ms);
  w.Key("lock_renew_time_ms");
  w.Int64(o.effective_lock_renew_time_ms());
  w.Key("stalled_interval_ms");
  w.Int64(o.stalled_interval_ms);
  w.Key("max_stalled_count");
  w.Int(o.max_stalled_count);
  w.Key("drain_delay_s");
  w.Double(o.drain_delay_s);
  w.Key("limiter");
  if (o.limiter) {
    w.StartObject();
    w.Key("max");
    w.Int64(o.limiter->max);
    w.Key("duration_ms");
    w.Int64(o.limiter->duration_ms);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("name");
  w.String(o.name.c_str());
  w.Key("shutdown_timeout_ms");
  if (o.shutdown_timeout_ms)
    w.Int64(*o.shutdown_timeout_ms);
  else
    w.Null();
  keep_jobs(w, "remove_on_complete", o.remove_on_complete);
  keep_jobs(w, "remove_on_fail", o.remove_on_fail);
  w.Key("metrics_max_data_points");
  if (o.metrics_max_data_points)
    w.Int64(*o.metrics_max_data_points);
  else
    w.Null();
  w.Key("max_started_attempts");
  if (o.max_started_attempts)
    w.Int(*o.max_started_attempts);
  else
    w.Null();
  w.Key("skip_stalled_check");
  w.Bool(o.skip_stalled_check);
  w.Key("skip_lock_renewal");
  w.Bool(o.skip_lock_renewal);
  w.Key("maximum_rate_limit_delay_ms");
  w.Int64(o.maximum_rate_limit_delay_ms);
  w.Key("processor_threads");
  w.Int(o.processor_threads);
  w.Key("finish_connections");
  w.Int(o.finish_connections);
  w.Key("log_level");
  w.String(level_name(c.log_level));
  w.Key("log_format");
  w.String(c.log_format == bullmq::LogFormat::kJson ? "json" : "text");
  w.Key("http_port");
  w.Int(c.http_port);
  w.Key("http_host");
  w.String(c.http_host.c_str());
  w.Key("liveness_idle_timeout_s");
  w.Int64(c.liveness_idle_timeout_s);
  w.Key("database_url");
  w.String(mask_url_password(c.database_url).c_str());
  w.Key("storage_base_path");
  w.String(c.storage_base_path.c_str());
  w.Key("batch_processing_timeout_s");
  w.Int64(c.batch_processing_timeout_s);
  w.Key("database_pool_size");
  w.Int(c.database_pool_size);
  w.Key("documents_per_extractor");
  w.Int(c.documents_per_extractor);
  w.Key("migrate");
  w.Bool(c.migrate);
  w.Key("otel_endpoint");
  w.String(mask_url_password(c.otel_endpoint).c_str());
  w.Key("otel_service_name");
  w.String(c.otel_service_name.c_str());
  w.EndObject();
  return std::string(buffer.GetString()) + "\n";
}

}  // namespace app
