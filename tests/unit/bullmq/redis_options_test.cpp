#include "bullmq/redis_options.hpp"

#include <doctest/doctest.h>

using bullmq::parse_redis_url;
using bullmq::RedisOptions;

TEST_CASE("redis URL: host, port, database") {
  RedisOptions o;
  REQUIRE_FALSE(parse_redis_url("redis://cache.internal:6380/3", o));
  CHECK(o.host == "cache.internal");
  CHECK(o.port == 6380);
  CHECK(o.db == 3);
  CHECK_FALSE(o.tls.enabled);
  CHECK(o.unix_socket.empty());
}

TEST_CASE("redis URL: defaults when parts are missing") {
  RedisOptions o;
  REQUIRE_FALSE(parse_redis_url("redis://", o));
  CHECK(o.host == "127.0.0.1");
  CHECK(o.port == 6379);
  CHECK(o.db == 0);
}

TEST_CASE("redis URL: ACL user and percent-escaped password") {
  RedisOptions o;
  REQUIRE_FALSE(parse_redis_url("redis://worker:p%40ss%3Aword@10.0.0.5:7000/0", o));
  CHECK(o.username == "worker");
  CHECK(o.password == "p@ss:word");
  CHECK(o.host == "10.0.0.5");
  CHECK(o.port == 7000);
}

TEST_CASE("redis URL: password only, as ioredis reads it") {
  RedisOptions o;
  REQUIRE_FALSE(parse_redis_url("redis://:secret@h", o));
  CHECK(o.username.empty());
  CHECK(o.password == "secret");
  RedisOptions p;
  REQUIRE_FALSE(parse_redis_url("redis://secret@h", p));
  CHECK(p.password == "secret");
}

TEST_CASE("redis URL: rediss enables TLS; options in the query") {
  RedisOptions o;
  REQUIRE_FALSE(parse_redis_url("rediss://h:6390?tls_verify=false&db=2", o));
  CHECK(o.tls.enabled);
  CHECK_FALSE(o.tls.verify);
  CHECK(o.db == 2);
}

TEST_CASE("redis URL: IPv6 literal") {
  RedisOptions o;
  REQUIRE_FALSE(parse_redis_url("redis://[::1]:6381", o));
  CHECK(o.host == "::1");
  CHECK(o.port == 6381);
  CHECK(o.describe() == "redis://[::1]:6381/0");
}

TEST_CASE("redis URL: unix socket with database") {
  RedisOptions o;
  REQUIRE_FALSE(parse_redis_url("unix:///run/redis/redis.sock?db=4", o));
  CHECK(o.unix_socket == "/run/redis/redis.sock");
  CHECK(o.db == 4);
}

TEST_CASE("redis URL: bad input is refused with a message and leaves the output alone") {
  RedisOptions o;
  o.host = "kept";
  for (const char* bad : {"localhost:6379", "http://h", "redis://h:0", "redis://h:70000",
                          "redis://h:abc", "redis://h/notanumber", "redis://h?bogus=1",
                          "unix://relative/path", "redis://[::1", "redis://u:%zz@h"}) {
    CAPTURE(bad);
    auto err = parse_redis_url(bad, o);
    REQUIRE(err.has_value());
    CHECK_FALSE(err->empty());
    CHECK(o.host == "kept");
  }
}

TEST_CASE("redis URL: describe() masks the password") {
  RedisOptions o;
  REQUIRE_FALSE(parse_redis_url("redis://u:topsecret@h:1/2", o));
  CHECK(o.describe().find("topsecret") == std::string::npos);
  CHECK(o.describe() == "redis://u:***@h:1/2");
}

TEST_CASE("redis URL: TLS files and server name in the query; flags already set stay") {
  RedisOptions o;
  o.timeout_ms = 2500;
  REQUIRE_FALSE(parse_redis_url(
      "rediss://h?tls_ca=%2Fetc%2Fca.pem&tls_cert=/c.pem&tls_key=/k.pem&tls_server_name=redis.lan",
      o));
  CHECK(o.tls.ca_file == "/etc/ca.pem");
  CHECK(o.tls.cert_file == "/c.pem");
  CHECK(o.tls.key_file == "/k.pem");
  CHECK(o.tls.server_name == "redis.lan");
  CHECK(o.tls.verify);
  CHECK(o.timeout_ms == 2500);
  RedisOptions i;
  REQUIRE_FALSE(parse_redis_url("rediss://h?insecure", i));
  CHECK_FALSE(i.tls.verify);
  RedisOptions j;
  REQUIRE_FALSE(parse_redis_url("rediss://h?insecure=false", j));
  CHECK(j.tls.verify);
}

TEST_CASE("redis URL: sentinel group, master name, database, sentinel password") {
  RedisOptions o;
  REQUIRE_FALSE(parse_redis_url(
      "redis+sentinel://app:pw@s1:26379,s2,[::1]:26380/mymaster/2?sentinel_password=sp", o));
  CHECK(o.mode == bullmq::RedisMode::kSentinel);
  REQUIRE(o.seeds.size() == 3);
  CHECK(o.seeds[0] == bullmq::RedisAddress{"s1", 26379});
  CHECK(o.seeds[1] == bullmq::RedisAddress{"s2", 26379});
  CHECK(o.seeds[2] == bullmq::RedisAddress{"::1", 26380});
  CHECK(o.master_name == "mymaster");
  CHECK(o.db == 2);
  CHECK(o.username == "app");
  CHECK(o.password == "pw");
  CHECK(o.sentinel_password == "sp");
  CHECK_FALSE(o.tls.enabled);
  CHECK(o.describe() == "redis+sentinel://app:***@s1:26379,s2:26379,[::1]:26380/mymaster/2");
  RedisOptions q;
  REQUIRE_FALSE(parse_redis_url("rediss+sentinel://s1/m?db=4", q));
  CHECK(q.tls.enabled);
  CHECK(q.db == 4);
}

TEST_CASE("redis URL: sentinel without a master name is refused") {
  RedisOptions o;
  auto err = parse_redis_url("redis+sentinel://s1:26379", o);
  REQUIRE(err);
  CHECK(err->find("MASTER_NAME") != std::string::npos);
}

TEST_CASE("redis URL: cluster seeds; only database 0") {
  RedisOptions o;
  REQUIRE_FALSE(parse_redis_url("rediss+cluster://:pw@n1:7000,n2:7001", o));
  CHECK(o.mode == bullmq::RedisMode::kCluster);
  REQUIRE(o.seeds.size() == 2);
  CHECK(o.seeds[1] == bullmq::RedisAddress{"n2", 7001});
  CHECK(o.tls.enabled);
  CHECK(o.password == "pw");
  CHECK(o.describe() == "rediss+cluster://:***@n1:7000,n2:7001");
  CHECK(parse_redis_url("redis+cluster://n1:7000/1", o));
  CHECK(parse_redis_url("redis+cluster://n1:7000?db=1", o));
  CHECK(parse_redis_url("redis+cluster://n1:7000,,n2", o));
}
