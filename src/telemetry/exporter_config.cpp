#include "telemetry/exporter_config.hpp"

#include <charconv>

namespace telemetry {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_digit(s[i + 1]);
      const int lo = hex_digit(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi << 4 | lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string_view lookup(const Environment& env, const char* name) {
  const char* v = env ? env(name) : nullptr;
  return v ? trim(v) : std::string_view{};
}

// A non-negative integer setting: `value` stays as it is when unset; false when malformed.
bool integer_setting(const Environment& env, const char* name, std::int64_t& value,
                     std::string* error) {
  const std::string_view text = lookup(env, name);
  if (text.empty()) return true;
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < 0) {
    if (error) {
      *error = name;
      *error += " must be a non-negative integer, not '";
      *error += text;
      *error += "'";
    }
    return false;
  }
  value = v;
  return true;
}

}  // namespace

std::optional<HttpEndpoint> parse_http_url(std::string_view url, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<HttpEndpoint> {
    if (error) {
      *error = "OTLP endpoint '";
      *error += url;
      *error += "': ";
      *error += why;
    }
    return std::nullopt;
  };
  HttpEndpoint e;
  e.url = std::string(url);
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    e.tls = true;
    rest = url.substr(8);
  } else {
    return fail("must start with http:// or https://");
  }
  const std::size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    // A query without a path ("host?x") asks for "/?x". (Built by appending:
    // GCC 12's -Wrestrict misfires on string::insert in optimized builds.)
    e.target.clear();
    if (rest[slash] == '?') e.target += '/';
    e.target += rest.substr(slash);
  }
  if (authority.find('@') != std::string_view::npos)
    return fail("credentials in the URL are not supported (use OTEL_EXPORTER_OTLP_HEADERS)");
  std::string_view port;
  if (authority.starts_with("[")) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("unterminated IPv6 address");
    e.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected text after the IPv6 address");
      port = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (e.host.empty()) return fail("no host");
  if (port.empty()) {
    e.port = e.tls ? "443" : "80";
  } else {
    int p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p <= 0 || p > 65535)
      return fail("bad port");
    e.port = std::string(port);
  }
  return e;
}

std::string traces_url_for(std::string_view base_endpoint) {
  std::string url(base_endpoint);
  if (url.empty() || url.back() != '/') url += '/';
  url += "v1/traces";
  return url;
}

std::vector<std::pair<std::string, std::string>> parse_key_values(std::string_view text,
                                                                  std::vector<std::string>* bad) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    const std::string_view key = eq == std::string_view::npos ? item : trim(item.substr(0, eq));
    if (eq == std::string_view::npos || key.empty()) {
      if (bad) bad->emplace_back(item);
      continue;
    }
    out.emplace_back(percent_decode(key), percent_decode(trim(item.substr(eq + 1))));
  }
  return out;
}

std::optional<ExporterConfig> exporter_config(const TracingFlags& flags, const Environment& env,
                                              std::string* error) {
  if (lookup(env, "OTEL_SDK_DISABLED") == "true") return std::nullopt;
  std::string url(lookup(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));  // used verbatim
  if (url.empty() && !flags.endpoint.empty()) url = traces_url_for(flags.endpoint);
  if (url.empty()) return std::nullopt;

  ExporterConfig config;
  auto endpoint = parse_http_url(url, error);
  if (!endpoint) return std::nullopt;
  config.endpoint = std::move(*endpoint);

  std::vector<std::string> bad;
  // Signal-specific headers win over the generic ones of the same name.
  config.headers = parse_key_values(lookup(env, "OTEL_EXPORTER_OTLP_HEADERS"), &bad);
  for (auto& [k, v] : parse_key_values(lookup(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS"), &bad)) {
    std::erase_if(config.headers, [&k](const auto& h) { return h.first == k; });
    config.headers.emplace_back(std::move(k), std::move(v));
  }
  std::string_view ca = lookup(env, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE");
  if (ca.empty()) ca = lookup(env, "OTEL_EXPORTER_OTLP_CERTIFICATE");
  config.ca_file = std::string(ca);

  std::int64_t timeout = 10000, traces_timeout = -1, delay = 5000, queue = 2048, batch = 512;
  if (!integer_setting(env, "OTEL_EXPORTER_OTLP_TIMEOUT", timeout, error) ||
      !integer_setting(env, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", traces_timeout, error) ||
      !integer_setting(env, "OTEL_BSP_SCHEDULE_DELAY", delay, error) ||
      !integer_setting(env, "OTEL_BSP_MAX_QUEUE_SIZE", queue, error) ||
      !integer_setting(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", batch, error)) {
    return std::nullopt;
  }
  if (traces_timeout >= 0) timeout = traces_timeout;
  if (queue < 1 || batch < 1) {
    if (error) *error = "OTEL_BSP_MAX_QUEUE_SIZE and OTEL_BSP_MAX_EXPORT_BATCH_SIZE must be >= 1";
    return std::nullopt;
  }
  config.timeout = std::chrono::milliseconds(timeout > 0 ? timeout : 10000);
  config.schedule_delay = std::chrono::milliseconds(delay);
  config.max_queue_size = static_cast<std::size_t>(queue);
  // The spec: a batch is never larger than the queue.
  config.max_export_batch_size = static_cast<std::size_t>(std::min(batch, queue));

  std::string service = flags.service_name;
  auto resource = parse_key_values(lookup(env, "OTEL_RESOURCE_ATTRIBUTES"), &bad);
  if (service.empty()) {
    for (const auto& [k, v] : resource)
      if (k == "service.name") service = v;
  }
  if (service.empty()) service = "bullmq-worker";
  config.resource.push_back({"service.name", service});
  bool has_version = false;
  for (auto& [k, v] : resource) {
    if (k == "service.name") continue;
    has_version = has_version || k == "service.version";
    config.resource.push_back({std::move(k), std::move(v)});
  }
  if (!has_version && !flags.service_version.empty())
    config.resource.push_back({"service.version", flags.service_version});
  config.resource.push_back({"telemetry.sdk.name", std::string("bullmq-worker")});
  config.resource.push_back({"telemetry.sdk.language", std::string("cpp")});
  if (!flags.service_version.empty())
    config.resource.push_back({"telemetry.sdk.version", flags.service_version});
  if (!bad.empty() && error) {
    // Not fatal: the rest is used; the caller logs it.
    *error = "ignored malformed entries (want key=value):";
    for (const auto& b : bad) {
      *error += " '";
      *error += b;
      *error += "'";
    }
  }
  return config;
}

}  // namespace telemetry
