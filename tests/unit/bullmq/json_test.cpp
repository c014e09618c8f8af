#include "bullmq/json.hpp"

#include <doctest/doctest.h>

#include <string>

TEST_CASE("is_json accepts one complete value and nothing else") {
  CHECK(bullmq::is_json("{}"));
  CHECK(bullmq::is_json(R"({"a":[1,2.5,"x\"y",null,true]})"));
  CHECK(bullmq::is_json("42"));
  CHECK(bullmq::is_json(R"("text")"));
  CHECK_FALSE(bullmq::is_json(""));
  CHECK_FALSE(bullmq::is_json("{"));
  CHECK_FALSE(bullmq::is_json("{} extra"));
  CHECK_FALSE(bullmq::is_json("undefined"));
  CHECK_FALSE(bullmq::is_json(std::string_view("{\"a\":1}\0", 8)));
}

TEST_CASE("is_json and SmallJsonDocument handle documents larger than their buffers") {
  std::string big = "{";
  for (int i = 0; i < 500; ++i) {
    if (i) big += ',';
    big += "\"key" + std::to_string(i) + "\":\"" + std::string(40, 'v') + "\"";
  }
  big += '}';
  CHECK(bullmq::is_json(big));
  bullmq::SmallJsonDocument parsed;
  auto& doc = parsed.parse(big);
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  CHECK(doc.MemberCount() == 500);
  CHECK(std::string(doc["key499"].GetString()) == std::string(40, 'v'));
}
