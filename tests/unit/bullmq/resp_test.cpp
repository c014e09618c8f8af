#include "bullmq/resp.hpp"

#include <doctest/doctest.h>

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

TEST_CASE("length prefixes of arrays and bulk strings") {
  CHECK(bullmq::RespLength('*', 0).view() == "*0\r\n");
  CHECK(bullmq::RespLength('$', 42).view() == "$42\r\n");
  CHECK(bullmq::RespLength('$', 18446744073709551615ull).view() == "$18446744073709551615\r\n");
}
