#include "bullmq/script_call.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using bullmq::ScriptCall;
using bullmq::ScriptId;

TEST_CASE("a script call encodes keys then arguments as bulk strings, binary safe") {
  ScriptCall call(ScriptId::kUpdateDataIfLocked);
  call.key("bull:q:", "7").arg(std::string("a\0b\r\n", 5)).arg(std::int64_t{-42}).arg("");
  CHECK(call.id() == ScriptId::kUpdateDataIfLocked);
  CHECK(call.key_count() == 1);
  CHECK(call.arg_count() == 3);
  CHECK(call.encoded() ==
        std::string("$8\r\nbull:q:7\r\n$5\r\na\0b\r\n\r\n$3\r\n-42\r\n$0\r\n\r\n", 40));
  CHECK(call.keys() == std::vector<std::string>{"bull:q:7"});
  CHECK(call.args() == std::vector<std::string>{std::string("a\0b\r\n", 5), "-42", ""});
}

TEST_CASE("a key after the first argument is a programming error") {
  ScriptCall call(ScriptId::kUpdateDataIfLocked);
  call.key("k").arg("v");
  CHECK_THROWS_AS(call.key("late"), std::logic_error);
  CHECK_THROWS_AS(call.key("bull:q:", "late"), std::logic_error);
}

TEST_CASE("a script call grows past its initial room without losing what it holds") {
  ScriptCall call(ScriptId::kUpdateDataIfLocked);
  call.key("bull:q:", "1");
  const std::string big(5000, 'x');
  call.arg("small").arg(big).arg(std::int64_t{7});
  CHECK(call.keys() == std::vector<std::string>{"bull:q:1"});
  CHECK(call.args() == std::vector<std::string>{"small", big, "7"});
  CHECK(call.encoded().size() == 14 + 11 + (1 + 4 + 2 + 5000 + 2) + 7);
}
