#include "bullmq/redis_options.hpp"

#include <charconv>

namespace bullmq {
namespace {

bool parse_uint(std::string_view text, unsigned long max, unsigned long& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && out <= max;
}

std::optional<std::string> percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    unsigned long value = 0;
    if (i + 2 >= in.size()) return "bad percent-escape in URL";
    std::string_view hex = in.substr(i + 1, 2);
    auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), value, 16);
    if (ec != std::errc() || ptr != hex.data() + hex.size()) return "bad percent-escape in URL";
    out += static_cast<char>(value);
    i += 2;
  }
  return std::nullopt;
}

// Applies `?key=value&…` options shared by every scheme.
std::optional<std::string> apply_query(std::string_view query, RedisOptions& out) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    if (key == "db") {
      unsigned long db = 0;
      if (!parse_uint(value, 1'000'000, db))
        return "bad database number '" + std::string(value) + "'";
      out.db = static_cast<int>(db);
    } else if (key == "password") {
      if (auto err = percent_decode(value, out.password)) return err;
    } else if (key == "tls_verify") {
      out.tls_verify = !(value == "false" || value == "0" || value == "no");
    } else if (key == "insecure") {
      out.tls_verify = false;
    } else if (key == "tls_ca") {
      if (auto err = percent_decode(value, out.tls_ca_file)) return err;
    } else if (!key.empty()) {
      return "unknown URL option '" + std::string(key) + "'";
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> parse_redis_url(std::string_view url, RedisOptions& out) {
  RedisOptions result;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return "Redis URL '" + std::string(url) +
           "' has no scheme (expected redis://, rediss:// or unix://)";
  }
  std::string_view scheme = url.substr(0, scheme_end);
  std::string_view rest = url.substr(scheme_end + 3);
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }

  if (scheme == "unix" || scheme == "redis+unix") {
    // unix:///path or unix://[:pass@]/path
    if (auto at = rest.find('@'); at != std::string_view::npos && rest.find('/') > at) {
      std::string_view auth = rest.substr(0, at);
      rest = rest.substr(at + 1);
      auto colon = auth.find(':');
      if (auto err = percent_decode(auth.substr(0, colon), result.username)) return err;
      if (colon != std::string_view::npos) {
        if (auto err = percent_decode(auth.substr(colon + 1), result.password)) return err;
      }
    }
    if (rest.empty() || rest.front() != '/') return "unix socket URL needs an absolute path";
    result.unix_socket = std::string(rest);
  } else if (scheme == "redis" || scheme == "rediss") {
    result.tls = scheme == "rediss";
    std::string_view hostport = rest;
    std::string_view path;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
      hostport = rest.substr(0, slash);
      path = rest.substr(slash + 1);
    }
    if (auto at = hostport.rfind('@'); at != std::string_view::npos) {
      std::string_view auth = hostport.substr(0, at);
      hostport = hostport.substr(at + 1);
      auto colon = auth.find(':');
      if (colon == std::string_view::npos) {
        // redis://secret@host: a lone value is the password (as ioredis).
        if (auto err = percent_decode(auth, result.password)) return err;
      } else {
        if (auto err = percent_decode(auth.substr(0, colon), result.username)) return err;
        if (auto err = percent_decode(auth.substr(colon + 1), result.password)) return err;
      }
    }
    std::string_view host = hostport;
    std::string_view port;
    if (!hostport.empty() && hostport.front() == '[') {  // [::1]:6379
      auto close = hostport.find(']');
      if (close == std::string_view::npos) return "unterminated IPv6 address in Redis URL";
      host = hostport.substr(1, close - 1);
      std::string_view after = hostport.substr(close + 1);
      if (!after.empty()) {
        if (after.front() != ':') return "bad text after IPv6 address in Redis URL";
        port = after.substr(1);
      }
    } else if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
      host = hostport.substr(0, colon);
      port = hostport.substr(colon + 1);
    }
    if (!host.empty()) result.host = std::string(host);
    if (!port.empty()) {
      unsigned long p = 0;
      if (!parse_uint(port, 65535, p) || p == 0)
        return "bad port '" + std::string(port) + "' in Redis URL";
      result.port = static_cast<std::uint16_t>(p);
    }
    if (!path.empty()) {
      unsigned long db = 0;
      if (!parse_uint(path, 1'000'000, db))
        return "bad database number '" + std::string(path) + "' in Redis URL";
      result.db = static_cast<int>(db);
    }
  } else {
    return "unsupported Redis URL scheme '" + std::string(scheme) +
           "' (expected redis, rediss or unix)";
  }
  if (auto err = apply_query(query, result)) return err;
  out = std::move(result);
  return std::nullopt;
}

std::string RedisOptions::describe() const {
  std::string auth;
  if (!username.empty() || !password.empty()) {
    auth = username + (password.empty() ? "" : ":***") + "@";
  }
  if (!unix_socket.empty())
    return "unix://" + auth + unix_socket + (db ? "?db=" + std::to_string(db) : "");
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(tls ? "rediss://" : "redis://") + auth + h + ":" + std::to_string(port) + "/" +
         std::to_string(db);
}

}  // namespace bullmq
