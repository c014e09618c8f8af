// Where and how to reach Redis: parsed from a URL (redis://, rediss://,
// unix://) or from the REDIS_HOST/PORT/PASSWORD/DB variables. Plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bullmq {

struct RedisOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string unix_socket;  // non-empty: connect to this socket path instead
  bool tls = false;         // rediss://
  bool tls_verify = true;   // rediss://…?tls_verify=false (or insecure) turns it off
  std::string tls_ca_file;  // ?tls_ca=/path: extra CA bundle
  std::string username;     // ACL user; empty = "default"
  std::string password;
  int db = 0;

  // A URL for logs: the password is masked.
  std::string describe() const;
};

// Parses `redis://[[user]:pass@]host[:port][/db]`, `rediss://…` (TLS),
// `unix:///path/to.sock[?db=N]` and `redis+unix://…`. Percent-escapes in
// user and password are decoded. Returns an error message, or nullopt.
std::optional<std::string> parse_redis_url(std::string_view url, RedisOptions& out);

}  // namespace bullmq
