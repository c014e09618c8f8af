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

bool is_false(std::string_view v) {
  return v == "false" || v == "0" || v == "no";
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
    std::string* text = nullptr;
    if (key == "db") {
      unsigned long db = 0;
      if (!parse_uint(value, 1'000'000, db))
        return "bad database number '" + std::string(value) + "'";
      out.db = static_cast<int>(db);
    } else if (key == "tls_verify") {
      out.tls.verify = !is_false(value);
    } else if (key == "insecure") {
      // `?insecure` alone or `?insecure=true` turn verification off.
      out.tls.verify = eq != std::string_view::npos && is_false(value);
    } else if (key == "password") {
      text = &out.password;
    } else if (key == "sentinel_username") {
      text = &out.sentinel_username;
    } else if (key == "sentinel_password") {
      text = &out.sentinel_password;
    } else if (key == "tls_ca") {
      text = &out.tls.ca_file;
    } else if (key == "tls_cert") {
      text = &out.tls.cert_file;
    } else if (key == "tls_key") {
      text = &out.tls.key_file;
    } else if (key == "tls_server_name") {
      text = &out.tls.server_name;
    } else if (!key.empty()) {
      return "unknown URL option '" + std::string(key) + "'";
    }
    if (text) {
      if (auto err = percent_decode(value, *text)) return err;
    }
  }
  return std::nullopt;
}

// `[user:]password@` in front of the hosts.
std::optional<std::string> take_auth(std::string_view& hosts, RedisOptions& out) {
  auto at = hosts.rfind('@');
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view auth = hosts.substr(0, at);
  hosts = hosts.substr(at + 1);
  auto colon = auth.find(':');
  if (colon == std::string_view::npos) {
    // redis://secret@host: a lone value is the password (as ioredis).
    return percent_decode(auth, out.password);
  }
  if (auto err = percent_decode(auth.substr(0, colon), out.username)) return err;
  return percent_decode(auth.substr(colon + 1), out.password);
}

// `host[:port]` or `[v6]:port`; an empty host or port keeps the defaults.
std::optional<std::string> parse_address(std::string_view text, RedisAddress& out) {
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {  // [::1]:6379
    auto close = text.find(']');
    if (close == std::string_view::npos) return "unterminated IPv6 address in Redis URL";
    host = text.substr(1, close - 1);
    std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "bad text after IPv6 address in Redis URL";
      port = after.substr(1);
    }
  } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (!host.empty()) out.host = std::string(host);
  if (!port.empty()) {
    unsigned long p = 0;
    if (!parse_uint(port, 65535, p) || p == 0)
      return "bad port '" + std::string(port) + "' in Redis URL";
    out.port = static_cast<std::uint16_t>(p);
  }
  return std::nullopt;
}

// `host:port,host:port…`: each given address, default port `port`.
std::optional<std::string> parse_address_list(std::string_view text, std::uint16_t port,
                                              std::vector<RedisAddress>& out) {
  while (true) {
    auto comma = text.find(',');
    std::string_view one = text.substr(0, comma);
    if (one.empty()) return "empty host in Redis URL's host list";
    RedisAddress address{"", port};
    if (auto err = parse_address(one, address)) return err;
    if (address.host.empty()) return "empty host in Redis URL's host list";
    out.push_back(std::move(address));
    if (comma == std::string_view::npos) break;
    text = text.substr(comma + 1);
  }
  return std::nullopt;
}

std::optional<std::string> parse_db(std::string_view text, int& db) {
  unsigned long n = 0;
  if (!parse_uint(text, 1'000'000, n))
    return "bad database number '" + std::string(text) + "' in Redis URL";
  db = static_cast<int>(n);
  return std::nullopt;
}

}  // namespace

std::string RedisAddress::describe() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

std::optional<std::string> parse_redis_url(std::string_view url, RedisOptions& out) {
  RedisOptions result = out;  // TLS and deadline settings from flags stay
  result.mode = RedisMode::kStandalone;
  result.host = "127.0.0.1";
  result.port = 6379;
  result.unix_socket.clear();
  result.seeds.clear();
  result.master_name.clear();
  result.username.clear();
  result.password.clear();
  result.db = 0;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return "Redis URL '" + std::string(url) +
           "' has no scheme (expected redis://, rediss://, unix://, redis+sentinel:// or "
           "redis+cluster://)";
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
      std::string_view auth = rest.substr(0, at + 1);
      rest = rest.substr(at + 1);
      auth.remove_suffix(1);
      auto colon = auth.find(':');
      if (auto err = percent_decode(auth.substr(0, colon), result.username)) return err;
      if (colon != std::string_view::npos) {
        if (auto err = percent_decode(auth.substr(colon + 1), result.password)) return err;
      }
    }
    if (rest.empty() || rest.front() != '/') return "unix socket URL needs an absolute path";
    result.unix_socket = std::string(rest);
  } else if (scheme == "redis" || scheme == "rediss") {
    result.tls.enabled = scheme == "rediss";
    std::string_view hostport = rest;
    std::string_view path;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
      hostport = rest.substr(0, slash);
      path = rest.substr(slash + 1);
    }
    if (auto err = take_auth(hostport, result)) return err;
    RedisAddress address{result.host, result.port};
    if (auto err = parse_address(hostport, address)) return err;
    result.host = address.host;
    result.port = address.port;
    if (!path.empty()) {
      if (auto err = parse_db(path, result.db)) return err;
    }
  } else if (scheme == "redis+sentinel" || scheme == "rediss+sentinel") {
    result.mode = RedisMode::kSentinel;
    result.tls.enabled = scheme == "rediss+sentinel";
    auto slash = rest.find('/');
    std::string_view hosts = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    if (auto err = take_auth(hosts, result)) return err;
    if (auto err = parse_address_list(hosts, 26379, result.seeds)) return err;
    auto db_slash = path.find('/');
    if (auto err = percent_decode(path.substr(0, db_slash), result.master_name)) return err;
    if (db_slash != std::string_view::npos && db_slash + 1 < path.size()) {
      if (auto err = parse_db(path.substr(db_slash + 1), result.db)) return err;
    }
    if (result.master_name.empty()) {
      return "Sentinel URL needs the master's name: " + std::string(scheme) +
             "://host:26379[,host:port…]/MASTER_NAME";
    }
  } else if (scheme == "redis+cluster" || scheme == "rediss+cluster") {
    result.mode = RedisMode::kCluster;
    result.tls.enabled = scheme == "rediss+cluster";
    auto slash = rest.find('/');
    std::string_view hosts = rest.substr(0, slash);
    if (slash != std::string_view::npos && slash + 1 < rest.size()) {
      return "a Redis Cluster has only database 0; remove '/" +
             std::string(rest.substr(slash + 1)) + "' from the URL";
    }
    if (auto err = take_auth(hosts, result)) return err;
    if (auto err = parse_address_list(hosts, 6379, result.seeds)) return err;
  } else {
    return "unsupported Redis URL scheme '" + std::string(scheme) +
           "' (expected redis, rediss, unix, redis+sentinel, rediss+sentinel, redis+cluster or "
           "rediss+cluster)";
  }
  if (auto err = apply_query(query, result)) return err;
  if (result.mode == RedisMode::kCluster && result.db != 0)
    return "a Redis Cluster has only database 0 (remove db=" + std::to_string(result.db) + ")";
  out = std::move(result);
  return std::nullopt;
}

// Built by appending: GCC 12 at -O2 warns (-Wrestrict, a false positive)
// about `"literal" + std::string&&` here.
std::string RedisOptions::describe() const {
  std::string out;
  if (mode == RedisMode::kStandalone && !unix_socket.empty()) {
    out = "unix://";
  } else {
    out = tls.enabled ? "rediss" : "redis";
    if (mode == RedisMode::kSentinel) out += "+sentinel";
    if (mode == RedisMode::kCluster) out += "+cluster";
    out += "://";
  }
  if (!username.empty() || !password.empty()) {
    out += username;
    if (!password.empty()) out += ":***";
    out += '@';
  }
  if (mode == RedisMode::kStandalone && !unix_socket.empty()) {
    out += unix_socket;
    if (db) out.append("?db=").append(std::to_string(db));
    return out;
  }
  if (mode == RedisMode::kStandalone) {
    out += RedisAddress{host, port}.describe();
  } else {
    for (std::size_t i = 0; i < seeds.size(); ++i) {
      if (i) out += ',';
      out += seeds[i].describe();
    }
  }
  if (mode == RedisMode::kSentinel) out.append("/").append(master_name);
  if (mode != RedisMode::kCluster) out.append("/").append(std::to_string(db));
  return out;
}

}  // namespace bullmq
