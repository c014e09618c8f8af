#include "bullmq/cluster_slots.hpp"

#include <doctest/doctest.h>

using namespace bullmq;

TEST_CASE("cluster slot: Redis's reference values") {
  // The values redis-cli's CLUSTER KEYSLOT gives.
  CHECK(key_slot("foo") == 12182);
  CHECK(key_slot("bar") == 5061);
  CHECK(key_slot("123456789") == 12739);  // CRC16/XMODEM check value 0x31C3
  CHECK(key_slot("") == 0);
}

TEST_CASE("cluster slot: hash tags") {
  CHECK(hash_tag("{user1000}.following") == "user1000");
  CHECK(hash_tag("foo{}{bar}") == "foo{}{bar}");  // empty first tag: whole key
  CHECK(hash_tag("foo{{bar}}zap") == "{bar");
  CHECK(hash_tag("foo{bar}{zap}") == "bar");
  CHECK(hash_tag("no-tag") == "no-tag");
  CHECK(hash_tag("open{only") == "open{only");
  CHECK(key_slot("{bull}:q:wait") == key_slot("{bull}:other:active"));
  CHECK(key_slot("bull:{q}:wait") == key_slot("q"));
}

TEST_CASE("cluster slot: a queue's keys in one slot, or a message saying how") {
  CHECK_FALSE(queue_hash_tag_problem("{bull}", "files"));
  CHECK_FALSE(queue_hash_tag_problem("bull", "{files}"));
  CHECK_FALSE(queue_hash_tag_problem("bu{ll", "fi}les"));  // tag "ll:fi"
  auto problem = queue_hash_tag_problem("bull", "files");
  REQUIRE(problem);
  CHECK(problem->find("hash tag") != std::string::npos);
  CHECK(problem->find("--prefix '{bull}'") != std::string::npos);
  CHECK(problem->find("--queue '{files}'") != std::string::npos);
  CHECK(queue_hash_tag_problem("bull", "{}files"));  // empty tag
  CHECK(queue_hash_tag_problem("bull", "files{"));   // the tag would close in the suffix
}

namespace {
Reply integer(std::int64_t v) {
  Reply r;
  r.type = Reply::Type::kInteger;
  r.integer = v;
  return r;
}
Reply string(std::string s) {
  Reply r;
  r.type = Reply::Type::kString;
  r.str = std::move(s);
  return r;
}
Reply array(std::vector<Reply> e) {
  Reply r;
  r.type = Reply::Type::kArray;
  r.elements = std::move(e);
  return r;
}
}  // namespace

TEST_CASE("cluster slots: parsed, with an unannounced host taken from the node asked") {
  Reply reply = array({
      array({integer(0), integer(5460), array({string("10.0.0.1"), integer(7000), string("id1")}),
             array({string("10.0.0.4"), integer(7003), string("id4")})}),
      array({integer(5461), integer(16383), array({string(""), integer(7001), string("id2")})}),
  });
  std::string error;
  auto ranges = parse_cluster_slots(reply, RedisAddress{"seed", 7001}, error);
  REQUIRE(ranges);
  REQUIRE(ranges->size() == 2);
  CHECK((*ranges)[0].master == RedisAddress{"10.0.0.1", 7000});
  CHECK((*ranges)[0].last == 5460);
  CHECK((*ranges)[1].master == RedisAddress{"seed", 7001});
  CHECK((*ranges)[1].first == 5461);
}

TEST_CASE("cluster slots: other shapes are refused with the reason") {
  std::string error;
  CHECK_FALSE(parse_cluster_slots(string("nope"), RedisAddress{}, error));
  CHECK(error.find("CLUSTER SLOTS") != std::string::npos);
  Reply bad = array({array({integer(10), integer(5), array({string("h"), integer(1)})})});
  CHECK_FALSE(parse_cluster_slots(bad, RedisAddress{}, error));
}
