#include "bullmq/redis_error_reply.hpp"

#include <doctest/doctest.h>

using namespace bullmq;

TEST_CASE("error replies: redirections carry their slot and target") {
  auto moved = classify_error_reply("MOVED 9263 10.0.0.2:7001");
  CHECK(moved.kind == RedisErrorKind::kMoved);
  CHECK(moved.slot == 9263);
  CHECK(moved.target == RedisAddress{"10.0.0.2", 7001});
  auto ask = classify_error_reply("ASK 12 [::1]:7002");
  CHECK(ask.kind == RedisErrorKind::kAsk);
  CHECK(ask.target == RedisAddress{"::1", 7002});
  auto v6 = classify_error_reply("MOVED 1 ::1:7003");
  CHECK(v6.target == RedisAddress{"::1", 7003});
  CHECK(classify_error_reply("MOVED nonsense").kind == RedisErrorKind::kOther);
  CHECK(classify_error_reply("MOVED 99999 h:1").kind == RedisErrorKind::kOther);
}

TEST_CASE("error replies: refusals that stop claiming") {
  CHECK(classify_error_reply("READONLY You can't write against a read only replica.").kind ==
        RedisErrorKind::kReadOnly);
  CHECK(classify_error_reply("MISCONF Redis is configured to save RDB snapshots").kind ==
        RedisErrorKind::kMisconf);
  auto oom = classify_error_reply(
      "OOM command not allowed when used memory > 'maxmemory'. script: abc, on @user_script:1.");
  CHECK(oom.kind == RedisErrorKind::kOom);
  CHECK(oom.code == "OOM");
  CHECK(classify_error_reply("NOPERM this user has no permissions to run the 'evalsha' command")
            .kind == RedisErrorKind::kNoPerm);
  CHECK(classify_error_reply("WRONGPASS invalid username-password pair").kind ==
        RedisErrorKind::kWrongPass);
  for (auto text : {"READONLY x", "MISCONF x", "OOM x", "NOPERM x", "NOAUTH x", "WRONGPASS x",
                    "CLUSTERDOWN x", "MOVED 1 h:2", "LOADING x", "MASTERDOWN x"}) {
    CHECK(blocks_claiming(classify_error_reply(text).kind));
    CHECK(retryable_error(classify_error_reply(text).kind));
  }
}

TEST_CASE("error replies: a script's own error is neither") {
  auto e = classify_error_reply("ERR user_script:12: Missing key for job 3");
  CHECK(e.kind == RedisErrorKind::kOther);
  CHECK(e.code == "ERR");
  CHECK_FALSE(blocks_claiming(e.kind));
  CHECK_FALSE(retryable_error(e.kind));
  CHECK_FALSE(blocks_claiming(classify_error_reply("TRYAGAIN x").kind));
  CHECK(retryable_error(classify_error_reply("TRYAGAIN x").kind));
}

TEST_CASE("error replies: the kind from the code word alone, as ServerError keeps it") {
  CHECK(error_kind_of_code("MOVED") == RedisErrorKind::kMoved);
  CHECK(error_kind_of_code("MISCONF") == RedisErrorKind::kMisconf);
  CHECK(error_kind_of_code("ERR") == RedisErrorKind::kOther);
  CHECK(error_kind_of_code("") == RedisErrorKind::kOther);
  CHECK(blocks_claiming(error_kind_of_code(classify_error_reply("MOVED 3 h:1").code)));
}
