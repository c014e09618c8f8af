#include "bullmq/resp.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bullmq/error.hpp"

using bullmq::Reply;
using bullmq::RespParser;

TEST_CASE("commands are encoded as RESP arrays of bulk strings (binary safe)") {
  std::string out;
  bullmq::format_command({"SET", "k", std::string("a\0b\r\n", 5)}, out);
  CHECK(out == std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0b\r\n\r\n", 31));
  bullmq::format_command({"PING"}, out);
  CHECK(out.substr(31) == "*1\r\n$4\r\nPING\r\n");
}

TEST_CASE("parser decodes every reply type") {
  RespParser p;
  p.feed("+OK\r\n-ERR boom\r\n:42\r\n$-1\r\n$5\r\nhello\r\n*-1\r\n");
  auto a = p.next();
  REQUIRE(a);
  CHECK(a->type == Reply::Type::kStatus);
  CHECK(a->str == "OK");
  auto b = p.next();
  REQUIRE(b);
  CHECK(b->is_error());
  CHECK(b->str == "ERR boom");
  auto c = p.next();
  REQUIRE(c);
  CHECK(c->is_integer());
  CHECK(c->integer == 42);
  auto d = p.next();
  REQUIRE(d);
  CHECK(d->is_nil());
  auto e = p.next();
  REQUIRE(e);
  CHECK(e->type == Reply::Type::kString);
  CHECK(e->str == "hello");
  auto f = p.next();
  REQUIRE(f);
  CHECK(f->is_nil());
  CHECK_FALSE(p.next());
}

TEST_CASE("parser handles a claim-shaped nested array split across reads") {
  const std::string bytes =
      "*4\r\n*4\r\n$4\r\nname\r\n$4\r\necho\r\n$4\r\ndata\r\n$2\r\n{}\r\n$1\r\n7\r\n:0\r\n:0\r\n";
  RespParser p;
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) {
    p.feed(bytes.substr(i, 1));
    CHECK_FALSE(p.next());
  }
  p.feed(bytes.substr(bytes.size() - 1));
  auto r = p.next();
  REQUIRE(r);
  REQUIRE(r->is_array());
  REQUIRE(r->elements.size() == 4);
  CHECK(r->elements[0].elements.size() == 4);
  CHECK(r->elements[0].elements[1].str == "echo");
  CHECK(r->elements[1].str == "7");
  CHECK(r->elements[3].is_integer());
}

TEST_CASE("parser rejects bytes that are not RESP") {
  RespParser p;
  p.feed("?what\r\n");
  CHECK_THROWS_AS(p.next(), bullmq::ProtocolError);
}

TEST_CASE("parser reset drops a half-read reply") {
  RespParser p;
  p.feed("$10\r\nhal");
  CHECK_FALSE(p.next());
  p.reset();
  p.feed(":1\r\n");
  auto r = p.next();
  REQUIRE(r);
  CHECK(r->integer == 1);
}

TEST_CASE("parser decodes edge values: negative integers, empty and nil arrays, empty strings") {
  RespParser p;
  p.feed(":-5\r\n*0\r\n*-1\r\n$0\r\n\r\n+\r\n");
  auto a = p.next();
  REQUIRE(a);
  CHECK(a->integer == -5);
  auto b = p.next();
  REQUIRE(b);
  CHECK(b->is_array());
  CHECK(b->elements.empty());
  auto c = p.next();
  REQUIRE(c);
  CHECK(c->is_nil());
  auto d = p.next();
  REQUIRE(d);
  CHECK(d->type == Reply::Type::kString);
  CHECK(d->str.empty());
  auto e = p.next();
  REQUIRE(e);
  CHECK(e->type == Reply::Type::kStatus);
  CHECK(p.buffered() == 0);
}

namespace {

// The replies of `bytes` read whole, for comparing against a chunked read.
std::vector<std::string> describe_all(RespParser& p) {
  std::vector<std::string> out;
  while (auto r = p.next()) out.push_back(r->describe() + "/" + std::to_string(r->elements.size()));
  return out;
}

}  // namespace

TEST_CASE("parser gives the same replies however the bytes are split") {
  std::string bytes;
  for (int i = 0; i < 50; ++i) {
    bytes += "*3\r\n$5\r\nhello\r\n:" + std::to_string(i) + "\r\n*2\r\n$-1\r\n+OK\r\n";
    bytes += "-ERR x" + std::to_string(i) + "\r\n";
  }
  RespParser whole;
  whole.feed(bytes);
  const auto expected = describe_all(whole);
  REQUIRE(expected.size() == 100);
  for (std::size_t chunk : {1u, 2u, 3u, 7u, 64u, 1000u}) {
    RespParser p;
    std::vector<std::string> got;
    for (std::size_t at = 0; at < bytes.size(); at += chunk) {
      p.feed(std::string_view(bytes).substr(at, chunk));
      for (auto& d : describe_all(p)) got.push_back(std::move(d));
    }
    CHECK(got == expected);
    CHECK(p.buffered() == 0);
  }
}

TEST_CASE("a large bulk string is read in place: room for all of it once its length is known") {
  const std::string body(3 * 1024 * 1024, 'x');
  const std::string bytes = "*2\r\n$" + std::to_string(body.size()) + "\r\n" + body + "\r\n:1\r\n";
  RespParser p;
  std::size_t at = 0;
  // Read as a socket would: into the room prepare() offers.
  auto read = [&](std::size_t at_most) {
    const std::span<char> room = p.prepare(16 * 1024);
    const std::size_t n = std::min({room.size(), at_most, bytes.size() - at});
    std::memcpy(room.data(), bytes.data() + at, n);
    p.commit(n);
    at += n;
  };
  read(4096);
  CHECK_FALSE(p.next());
  // The header is in: the next room holds the rest of the string at once.
  CHECK(p.prepare(16 * 1024).size() >= bytes.size() - at - 6);
  read(bytes.size());
  auto r = p.next();
  REQUIRE(r);
  REQUIRE(r->elements.size() == 2);
  CHECK(r->elements[0].str == body);
  CHECK(r->elements[1].integer == 1);
  // The grown buffer is given back once the reply has been read.
  CHECK(p.prepare(16).size() == 64 * 1024);
}

TEST_CASE("a long array arriving in pieces is scanned once, where the last scan stopped") {
  std::string bytes = "*20000\r\n";
  for (int i = 0; i < 20000; ++i) bytes += "$6\r\njob-" + std::to_string(10 + i % 90) + "\r\n";
  RespParser p;
  std::optional<Reply> r;
  for (std::size_t at = 0; at < bytes.size(); at += 1000) {
    CHECK_FALSE(r);
    p.feed(std::string_view(bytes).substr(at, 1000));
    r = p.next();
  }
  REQUIRE(r);
  REQUIRE(r->elements.size() == 20000);
  CHECK(r->elements[19999].str == "job-29");  // 10 + 19999 % 90
}

TEST_CASE("parser rejects malformed lengths, missing CRLFs, and nesting beyond 64 levels") {
  for (const char* bad : {"$abc\r\n", "$-2\r\n", "*-5\r\n", ":\r\n", ":1\n", "$3\r\nabcXY",
                          ":1234567890123456789\r\n", "+OK\n", "$999999999999\r\n"}) {
    CAPTURE(bad);
    RespParser p;
    p.feed(bad);
    CHECK_THROWS_AS(p.next(), bullmq::ProtocolError);
  }
  std::string deep;
  for (int i = 0; i < 65; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  RespParser p;
  p.feed(deep);
  CHECK_THROWS_AS(p.next(), bullmq::ProtocolError);
  RespParser split;  // the same, found by the scan of a reply that arrives in pieces
  split.feed(deep.substr(0, 100));
  CHECK_FALSE(split.next());
  split.feed(deep.substr(100));
  CHECK_THROWS_AS(split.next(), bullmq::ProtocolError);
}

TEST_CASE("length prefixes of arrays and bulk strings") {
  CHECK(bullmq::RespLength('*', 0).view() == "*0\r\n");
  CHECK(bullmq::RespLength('$', 42).view() == "$42\r\n");
  CHECK(bullmq::RespLength('$', 18446744073709551615ull).view() == "$18446744073709551615\r\n");
}
