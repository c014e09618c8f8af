// Checks the KEYS and ARGV the worker sends against the protocol reference
// (../shared/docs/bullmq-worker-protocol.md §2.5 and §3), without Redis.
#include "bullmq/queue_scripts.hpp"

#include <doctest/doctest.h>

#include "bullmq/script_catalog.hpp"

using namespace bullmq;

namespace {

struct Fixture {
  asio::io_context io;
  RedisConnection connection{io.get_executor(), RedisOptions{}, "test"};
  ScriptRunner runner{connection};
  QueueScripts scripts{runner, QueueKeys("bull", "q")};

  Job job(const std::string& opts = R"({"attempts":3})") {
    return Job::from_hash("q", "7", {"name", "echo", "opts", opts});
  }
};

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

}  // namespace

TEST_CASE("every embedded script has a body, a SHA1 and the key count in its name") {
  for (const auto& s : kScripts) {
    CAPTURE(s.file);
    CHECK(s.sha1.size() == 40);
    CHECK(s.body.size() > 100);
    CHECK(std::string(s.file).ends_with("-" + std::to_string(s.num_keys)));
  }
  CHECK(std::string(kBullmqVersion) == "6.7.0");
  CHECK(script_info(ScriptId::kMoveToActive).sha1 == "d96ca626f1ea141b44a856b312fc636d99aa9ea9");
  CHECK(script_info(ScriptId::kMoveToFinished).sha1 == "69666e69dd5621df59067a03de685e55a486560d");
  CHECK(script_info(ScriptId::kMoveToDelayed).file == "moveToDelayed-11");
}

TEST_CASE("claim options pack as the reference's example bytes") {
  CHECK(hex(pack_claim_options(ClaimOptions{"w:1", 30000, std::nullopt, ""})) ==
        "82a5746f6b656ea3773a31ac6c6f636b4475726174696f6ecd7530");
  CHECK(msgpack_to_json(pack_claim_options(ClaimOptions{"t", 5000, RateLimit{10, 1000}, "w1"})) ==
        R"({"token":"t","lockDuration":5000,"limiter":{"max":10,"duration":1000},"name":"w1"})");
}

TEST_CASE("keepJobs {count:-1} packs as in the reference") {
  auto packed = pack_finish_options(ClaimOptions{"t", 1, std::nullopt, ""}, KeepJobs{-1, {}, {}}, 0,
                                    std::nullopt);
  CHECK(hex(packed).find("81a5636f756e74ff") != std::string::npos);
  CHECK(
      msgpack_to_json(packed) ==
      R"({"token":"t","lockDuration":1,"keepJobs":{"count":-1},"attempts":0,"maxMetricsSize":""})");
}

TEST_CASE("finish options are packed again whenever one of their inputs changes") {
  bullmq::PackedFinishOptions packed;
  ClaimOptions claim{"w:1", 30000, std::nullopt, "w"};
  KeepJobs keep{-1, {}, {}};
  auto expect = [&](int attempts, std::optional<std::int64_t> max_metrics) {
    CHECK(packed.get(claim, keep, attempts, max_metrics) ==
          pack_finish_options(claim, keep, attempts, max_metrics));
  };
  expect(3, std::nullopt);
  expect(3, std::nullopt);  // kept
  expect(4, std::nullopt);
  expect(4, 100);
  keep.age_seconds = 60;
  expect(4, 100);
  claim.token = "w:2";
  expect(4, 100);
  claim.lock_duration_ms = 5000;
  expect(4, 100);
  claim.limiter = RateLimit{10, 1000};
  expect(4, 100);
  claim.limiter->max = 11;
  expect(4, 100);
  claim.worker_name.clear();
  expect(4, 100);
}

TEST_CASE("moveToFinished through kept finish options sends what a fresh pack sends") {
  Fixture f;
  auto job = f.job();
  bullmq::PackedFinishOptions packed;
  const ClaimOptions claim{"tok", 30000, std::nullopt, "w"};
  for (int i = 0; i < 2; ++i) {
    auto kept = f.scripts.move_to_finished_call(job, claim, true, "1", KeepJobs{-1, {}, {}}, {},
                                                true, 100, 42, &packed);
    auto fresh = f.scripts.move_to_finished_call(job, claim, true, "1", KeepJobs{-1, {}, {}}, {},
                                                 true, 100, 42);
    CHECK(kept.encoded() == fresh.encoded());
  }
}

TEST_CASE("moveToActive: 11 keys in order, prefix, timestamp, options") {
  Fixture f;
  auto call =
      f.scripts.move_to_active_call(ClaimOptions{"tok:1", 30000, std::nullopt, ""}, 1700000000000);
  CHECK(call.id() == ScriptId::kMoveToActive);
  CHECK(call.keys() == std::vector<std::string>{
                           "bull:q:wait", "bull:q:active", "bull:q:prioritized", "bull:q:events",
                           "bull:q:stalled", "bull:q:limiter", "bull:q:delayed", "bull:q:paused",
                           "bull:q:meta", "bull:q:pc", "bull:q:marker"});
  REQUIRE(call.args().size() == 3);
  CHECK(call.args()[0] == "bull:q:");
  CHECK(call.args()[1] == "1700000000000");
  CHECK(msgpack_to_json(call.args()[2]) == R"({"token":"tok:1","lockDuration":30000})");
}

TEST_CASE("moveToFinished completed: keys, flags, empty fields, required option keys") {
  Fixture f;
  auto job = f.job();
  auto call =
      f.scripts.move_to_finished_call(job, ClaimOptions{"tok", 30000, std::nullopt, "w"}, true,
                                      R"({"ok":1})", KeepJobs{-1, {}, {}}, {}, true, 100, 42);
  REQUIRE(call.keys().size() == 14);
  CHECK(call.keys()[10] == "bull:q:completed");
  CHECK(call.keys()[11] == "bull:q:7");
  CHECK(call.keys()[12] == "bull:q:metrics:completed");
  CHECK(call.keys()[13] == "bull:q:marker");
  CHECK(call.args() == std::vector<std::string>{"7", "42", "returnvalue", R"({"ok":1})",
                                                "completed", "1", "bull:q:", call.args()[7], ""});
  CHECK(
      msgpack_to_json(call.args()[7]) ==
      R"({"token":"tok","lockDuration":30000,"name":"w","keepJobs":{"count":-1},"attempts":3,"maxMetricsSize":100})");
}

TEST_CASE("moveToFinished failed: target set, reason and fields array") {
  Fixture f;
  auto job = f.job();
  auto call = f.scripts.move_to_finished_call(
      job, ClaimOptions{"tok", 30000, std::nullopt, ""}, false, "boom",
      KeepJobs{std::nullopt, 3600, std::nullopt}, {"failedReason", "boom", "stacktrace", "[]"},
      false, std::nullopt, 42);
  CHECK(call.keys()[10] == "bull:q:failed");
  CHECK(call.keys()[12] == "bull:q:metrics:failed");
  CHECK(call.args()[2] == "failedReason");
  CHECK(call.args()[3] == "boom");
  CHECK(call.args()[4] == "failed");
  CHECK(call.args()[5] == "0");
  CHECK(msgpack_to_json(call.args()[8]) == R"(["failedReason","boom","stacktrace","[]"])");
  CHECK(msgpack_to_json(call.args()[7]).find(R"("keepJobs":{"age":3600})") != std::string::npos);
}

TEST_CASE(
    "moveToDelayed (6.7, 11 keys): relative delay, skipAttempt flag, claim map only when "
    "fetching") {
  Fixture f;
  auto job = f.job();
  auto retry = f.scripts.move_to_delayed_call(job, ClaimOptions{"tok", 30000, std::nullopt, ""},
                                              500, false, {"failedReason", "x"}, true, 1000);
  CHECK(retry.keys() == std::vector<std::string>{"bull:q:marker", "bull:q:active",
                                                 "bull:q:prioritized", "bull:q:delayed", "bull:q:7",
                                                 "bull:q:events", "bull:q:meta", "bull:q:stalled",
                                                 "bull:q:wait", "bull:q:limiter", "bull:q:pc"});
  CHECK(retry.args()[0] == "bull:q:");
  CHECK(retry.args()[1] == "1000");
  CHECK(retry.args()[2] == "7");
  CHECK(retry.args()[3] == "tok");
  CHECK(retry.args()[4] == "500");
  CHECK(retry.args()[5] == "0");
  CHECK(retry.args()[7] == "1");
  CHECK(msgpack_to_json(retry.args()[8]) == R"({"token":"tok","lockDuration":30000})");
  auto moved = f.scripts.move_to_delayed_call(job, ClaimOptions{"tok", 30000, std::nullopt, ""},
                                              500, true, {}, false, 1000);
  CHECK(moved.args()[5] == "1");
  CHECK(moved.args()[6] == "");
  CHECK(moved.args()[7] == "0");
  CHECK(moved.args()[8] == "");
}

TEST_CASE("retryJob pushes LIFO jobs to the right") {
  Fixture f;
  auto fifo = f.scripts.retry_job_call(f.job(), "tok", {}, 5);
  CHECK(fifo.keys().size() == 11);
  CHECK(fifo.args()[2] == "LPUSH");
  auto lifo = f.scripts.retry_job_call(f.job(R"({"lifo":true})"), "tok", {}, 5);
  CHECK(lifo.args()[2] == "RPUSH");
}

TEST_CASE("claim replies decode into job, rate limit and next delay") {
  Fixture f;
  Reply job_reply;
  job_reply.type = Reply::Type::kArray;
  Reply fields;
  fields.type = Reply::Type::kArray;
  for (const char* s : {"name", "echo", "data", "{}", "atm", "1"}) {
    Reply e;
    e.type = Reply::Type::kString;
    e.str = s;
    fields.elements.push_back(e);
  }
  Reply id;
  id.type = Reply::Type::kString;
  id.str = "repeat:s:1700";
  Reply zero;
  zero.type = Reply::Type::kInteger;
  job_reply.elements = {fields, id, zero, zero};
  auto claimed = f.scripts.decode_claim(job_reply, "tok");
  REQUIRE(claimed.job);
  CHECK(claimed.job->id == "repeat:s:1700");
  CHECK(claimed.job->attempts_made == 1);
  CHECK(claimed.token == "tok");

  Reply limited;
  limited.type = Reply::Type::kArray;
  Reply ttl = zero;
  ttl.integer = 750;
  limited.elements = {zero, zero, ttl, zero};
  auto r = f.scripts.decode_claim(limited, "tok");
  CHECK_FALSE(r.job);
  CHECK(r.rate_limit_ms == 750);

  Reply bad;
  bad.type = Reply::Type::kArray;
  CHECK_THROWS_AS(f.scripts.decode_claim(bad, "tok"), ProtocolError);

  auto finish = f.scripts.decode_finish(ttl);
  CHECK(finish.code == ScriptCode::kOk);
  Reply lost = zero;
  lost.integer = -2;
  CHECK(f.scripts.decode_finish(lost).code == ScriptCode::kLockMissing);
}

TEST_CASE("getDependencyCounts and removeUnprocessedChildren take Node's keys and arguments") {
  Fixture f;
  ScriptCall counts = f.scripts.dependency_counts_call("7");
  CHECK(counts.keys() == std::vector<std::string>{"bull:q:7:processed", "bull:q:7:dependencies",
                                                  "bull:q:7:failed", "bull:q:7:unsuccessful"});
  CHECK(counts.args() == std::vector<std::string>{"processed", "unprocessed", "ignored", "failed"});
  ScriptCall remove = f.scripts.remove_unprocessed_children_call("7", "tok");
  CHECK(remove.id() == ScriptId::kRemoveUnprocessedChildrenIfLocked);
  CHECK(remove.keys() == std::vector<std::string>{"bull:q:7", "bull:q:meta", "bull:q:7:lock"});
  CHECK(remove.args() == std::vector<std::string>{"bull:q:", "7", "tok"});
}

namespace {

// The guard lua/embed-scripts.mjs puts in front of an *IfLocked script reads
// KEYS[k] (the lock) and ARGV[a] (the token): a call must send exactly k keys
// and a arguments, the lock and the token last.
void check_guard_reads_the_last_key_and_argument(const ScriptCall& call) {
  const ScriptInfo& info = script_info(call.id());
  CAPTURE(info.file);
  CHECK(std::string(info.name).ends_with("IfLocked"));
  const std::string body(info.body);
  const std::string keys = "redis.call(\"GET\", KEYS[" + std::to_string(call.key_count()) + "])";
  const std::string token = "if heldBy ~= ARGV[" + std::to_string(call.arg_count()) + "] then";
  CHECK(body.find(keys) < 400);
  CHECK(body.find(token) < 400);
  CHECK(body.find("return -6") < body.find("--[["));  // before BullMQ's own text
  CHECK(call.keys().back() == "bull:q:7:lock");
  CHECK(call.args().back() == "tok");
}

}  // namespace

TEST_CASE("a processor's writes into its job go through the lock-checking scripts") {
  Fixture f;
  ScriptCall progress = f.scripts.update_progress_call("7", "tok", "[1,2]");
  CHECK(progress.id() == ScriptId::kUpdateProgressIfLocked);
  CHECK(progress.keys() ==
        std::vector<std::string>{"bull:q:7", "bull:q:events", "bull:q:meta", "bull:q:7:lock"});
  CHECK(progress.args() == std::vector<std::string>{"7", "[1,2]", "tok"});
  check_guard_reads_the_last_key_and_argument(progress);

  // keepLogs is always sent (empty when unset) so the token keeps its place.
  ScriptCall log = f.scripts.add_log_call("7", "tok", "line", std::nullopt);
  CHECK(log.id() == ScriptId::kAddLogIfLocked);
  CHECK(log.keys() == std::vector<std::string>{"bull:q:7", "bull:q:7:logs", "bull:q:7:lock"});
  CHECK(log.args() == std::vector<std::string>{"7", "line", "", "tok"});
  check_guard_reads_the_last_key_and_argument(log);
  CHECK(f.scripts.add_log_call("7", "tok", "line", 3).args() ==
        std::vector<std::string>{"7", "line", "3", "tok"});

  ScriptCall data = f.scripts.update_data_call("7", "tok", "{}");
  CHECK(data.id() == ScriptId::kUpdateDataIfLocked);
  CHECK(data.keys() == std::vector<std::string>{"bull:q:7", "bull:q:7:lock"});
  CHECK(data.args() == std::vector<std::string>{"{}", "tok"});
  check_guard_reads_the_last_key_and_argument(data);

  check_guard_reads_the_last_key_and_argument(
      f.scripts.remove_unprocessed_children_call("7", "tok"));
}

TEST_CASE("a lock-checking script is BullMQ's own body behind the guard") {
  const std::pair<ScriptId, ScriptId> pairs[] = {
      {ScriptId::kAddStandardJobIfLocked, ScriptId::kAddStandardJob},
      {ScriptId::kAddDelayedJobIfLocked, ScriptId::kAddDelayedJob},
      {ScriptId::kAddPrioritizedJobIfLocked, ScriptId::kAddPrioritizedJob},
  };
  for (auto [guarded, plain] : pairs) {
    const ScriptInfo& g = script_info(guarded);
    const ScriptInfo& p = script_info(plain);
    CAPTURE(g.file);
    CHECK(g.num_keys == p.num_keys + 1);
    CHECK(g.body.ends_with(p.body));
    CHECK(g.sha1 != p.sha1);
  }
}
