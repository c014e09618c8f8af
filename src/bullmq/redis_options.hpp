// Where and how to reach Redis: parsed from a URL (redis://, rediss://,
// unix://, redis+sentinel://, redis+cluster://) or from the REDIS_HOST/PORT/
// PASSWORD/DB variables, plus the TLS and deadline settings that come from
// their own flags. Plain values, copied into every connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bullmq {

// A TCP endpoint: a host name or IP literal and a port.
struct RedisAddress {
  std::string host;
  std::uint16_t port = 6379;

  // "host:port", with IPv6 literals in brackets.
  std::string describe() const;
  friend bool operator==(const RedisAddress&, const RedisAddress&) = default;
};

// How the worker finds the node to talk to.
enum class RedisMode {
  kStandalone,  // one server at `host:port` (or `unix_socket`)
  kSentinel,    // ask the sentinels in `seeds` for the master of `master_name`
  kCluster,     // read the slot map from any node in `seeds`
};

struct RedisTlsOptions {
  bool enabled = false;     // rediss://, rediss+sentinel://, rediss+cluster://
  bool verify = true;       // --redis-tls-insecure (or ?insecure) turns it off
  std::string ca_file;      // --redis-tls-ca: trust these CAs (PEM), besides the system's
  std::string cert_file;    // --redis-tls-cert: client certificate (PEM), for mTLS
  std::string key_file;     // --redis-tls-key: its private key (PEM)
  std::string server_name;  // --redis-tls-server-name: SNI and the name the certificate
                            // must carry; empty = the host connected to
};

struct RedisOptions {
  RedisMode mode = RedisMode::kStandalone;
  std::string host = "127.0.0.1";   // standalone
  std::uint16_t port = 6379;        // standalone
  std::string unix_socket;          // standalone: non-empty = connect to this socket path
  std::vector<RedisAddress> seeds;  // sentinel: the sentinels; cluster: nodes to ask first
  std::string master_name;          // sentinel: the monitored master's name
  std::string sentinel_username;    // sentinel: ACL user on the sentinels
  std::string sentinel_password;    // sentinel: password of the sentinels
  RedisTlsOptions tls;              // applies to every node (and sentinel) connected to
  std::string username;             // ACL user on the data nodes; empty = "default"
  std::string password;
  int db = 0;  // always 0 in cluster mode

  // Deadline for any reply (plus the blocking time of a blocking command) and
  // for connecting: a connection silent for longer is dropped and rebuilt.
  // An idle connection sends PING every half of it. 0 turns both off.
  std::int64_t timeout_ms = 10'000;
  // TCP keepalive idle time, seconds (probes every 5 s, 3 lost = dead); 0 = off.
  int keepalive_s = 15;

  // A URL for logs: the passwords are masked.
  std::string describe() const;
};

// Parses `redis://[[user]:pass@]host[:port][/db]`, `rediss://…` (TLS),
// `unix:///path/to.sock[?db=N]` and `redis+unix://…`,
// `redis+sentinel://[[user]:pass@]host:port[,host:port…]/MASTER[/db][?…]`
// (`rediss+sentinel://`), and
// `redis+cluster://[[user]:pass@]host:port[,host:port…]` (`rediss+cluster://`).
// Query options: db, password, sentinel_username, sentinel_password,
// tls_ca, tls_cert, tls_key, tls_server_name, insecure (tls_verify=false).
// Percent-escapes in user names, passwords and paths are decoded. Returns an
// error message, or nullopt.
std::optional<std::string> parse_redis_url(std::string_view url, RedisOptions& out);

}  // namespace bullmq
