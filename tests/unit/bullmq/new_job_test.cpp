// JobContext::add_job's preparation (bullmq/new_job.hpp): the options Node's
// Queue.add would store, the argument array of the add scripts, the script
// chosen, and Node's refusals — without Redis.
#include "bullmq/new_job.hpp"

#include <doctest/doctest.h>

#include "bullmq/script_args.hpp"
#include "bullmq/script_catalog.hpp"

using namespace bullmq;
using bullmq_worker::NewJob;

namespace {

NewJob new_job(std::string opts = "{}", std::string data = R"({"a":1})") {
  NewJob job;
  job.name = "echo";
  job.data = std::move(data);
  job.opts = std::move(opts);
  return job;
}

const QueueKeys kQueue("bull", "q");

}  // namespace

TEST_CASE("a plain job: attempts 0 first, no parent, addStandardJob with Node's argument array") {
  NewJobPlan plan = plan_new_job(new_job(), kQueue, std::nullopt, 1700000000000);
  CHECK(plan.kind == NewJobPlan::Kind::kStandard);
  CHECK(plan.opts_json == R"({"attempts":0})");
  CHECK(plan.parent_key.empty());
  CHECK(msgpack_to_json(plan.packed_args) ==
        R"(["bull:q:","","echo",1700000000000,null,null,null,null,null,null])");
  ScriptCall call = add_job_call(kQueue, plan);
  CHECK(call.id() == ScriptId::kAddStandardJob);
  CHECK(call.keys() == std::vector<std::string>{"bull:q:wait", "bull:q:paused", "bull:q:meta",
                                                "bull:q:id", "bull:q:completed", "bull:q:delayed",
                                                "bull:q:active", "bull:q:events", "bull:q:marker"});
  CHECK(call.args().at(1) == R"({"a":1})");
  CHECK(call.key_count() ==
        static_cast<std::size_t>(script_info(ScriptId::kAddStandardJob).num_keys));
}

TEST_CASE("a child of the running job: parent option, parent key, dependencies key and flags") {
  NewJobPlan plan = plan_new_job(
      [] {
        NewJob j = new_job(R"({"jobId":"child-1","failParentOnFailure":true,"attempts":2})");
        j.as_child = true;
        return j;
      }(),
      QueueKeys("bull", "other"), NewJobParent{"7", "bull:q"}, 5);
  CHECK(
      plan.opts_json ==
      R"({"attempts":2,"jobId":"child-1","failParentOnFailure":true,"parent":{"id":"7","queue":"bull:q"}})");
  CHECK(plan.parent_key == "bull:q:7");
  CHECK(plan.job_id == "child-1");
  CHECK(
      msgpack_to_json(plan.packed_args) ==
      R"(["bull:other:","child-1","echo",5,"bull:q:7","bull:q:7:dependencies",{"id":"7","queueKey":"bull:q","fpof":true},null,null,null])");
  // Stored under Node's short keys.
  CHECK(msgpack_to_json(plan.packed_opts) ==
        R"({"attempts":2,"jobId":"child-1","fpof":true,"parent":{"id":"7","queue":"bull:q"}})");
}

TEST_CASE("a child of the running job is added only while the parent's lock holds its token") {
  NewJob child = new_job();
  child.as_child = true;
  NewJobPlan plan = plan_new_job(child, kQueue, NewJobParent{"7", "bull:q"}, 5);
  for (NewJobPlan::Kind kind :
       {NewJobPlan::Kind::kStandard, NewJobPlan::Kind::kDelayed, NewJobPlan::Kind::kPrioritized}) {
    plan.kind = kind;
    const ScriptCall plain = add_job_call(kQueue, plan);
    const ScriptCall call = add_job_call(kQueue, plan, ParentLock{"bull:q:7:lock", "tok"});
    CAPTURE(script_info(call.id()).file);
    CHECK(std::string(script_info(call.id()).name) ==
          std::string(script_info(plain.id()).name) + "IfLocked");
    std::vector<std::string> keys = plain.keys();
    keys.push_back("bull:q:7:lock");
    CHECK(call.keys() == keys);
    std::vector<std::string> args = plain.args();
    args.push_back("tok");
    CHECK(call.args() == args);
    CHECK(call.key_count() == static_cast<std::size_t>(script_info(call.id()).num_keys));
  }
  CHECK(add_job_error_message(-6, plan) ==
        "addJob refused: the parent job bull:q:7 is no longer locked by this worker (its lock "
        "was taken over)");
}

TEST_CASE("a parent option is honoured without as_child, as Queue.add does") {
  NewJobPlan plan = plan_new_job(
      new_job(R"({"parent":{"id":"9","queue":"bull:p"},"continueParentOnFailure":true})"), kQueue,
      std::nullopt, 5);
  CHECK(plan.parent_key == "bull:p:9");
  CHECK(msgpack_to_json(plan.packed_opts) ==
        R"({"attempts":0,"parent":{"id":"9","queue":"bull:p"},"cpof":true})");
}

TEST_CASE("delay, priority, backoff, deduplication and keepLogs take Node's shapes") {
  NewJobPlan delayed =
      plan_new_job(new_job(R"({"delay":500,"backoff":300})"), kQueue, std::nullopt, 1000);
  CHECK(delayed.kind == NewJobPlan::Kind::kDelayed);
  CHECK(delayed.opts_json ==
        R"({"attempts":0,"delay":500,"backoff":{"type":"fixed","delay":300}})");
  ScriptCall call = add_job_call(kQueue, delayed);
  CHECK(call.id() == ScriptId::kAddDelayedJob);
  CHECK(call.keys() == std::vector<std::string>{"bull:q:marker", "bull:q:meta", "bull:q:id",
                                                "bull:q:delayed", "bull:q:completed",
                                                "bull:q:events"});

  NewJobPlan prioritized = plan_new_job(new_job(R"({"priority":3})"), kQueue, std::nullopt, 1);
  CHECK(prioritized.kind == NewJobPlan::Kind::kPrioritized);
  CHECK(add_job_call(kQueue, prioritized).id() == ScriptId::kAddPrioritizedJob);
  CHECK(add_job_call(kQueue, prioritized).keys().back() == "bull:q:pc");

  NewJobPlan dedup = plan_new_job(
      new_job(R"({"deduplication":{"id":"abc","ttl":1000},"keepLogs":5,"repeatJobKey":"x"})"),
      kQueue, std::nullopt, 1);
  CHECK(msgpack_to_json(dedup.packed_opts) ==
        R"({"attempts":0,"de":{"id":"abc","ttl":1000},"kl":5})");
  CHECK(msgpack_to_json(dedup.packed_args) ==
        R"(["bull:q:","","echo",1,null,null,null,null,"bull:q:de:abc",null])");
}

TEST_CASE("what Node refuses is refused, naming the job and the problem") {
  auto refused = [](const NewJob& job, const char* needle,
                    std::optional<NewJobParent> parent = std::nullopt) {
    CAPTURE(job.opts);
    try {
      plan_new_job(job, kQueue, parent, 1);
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find("cannot add job 'echo'") != std::string::npos);
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  refused(new_job(R"({"jobId":"12"})"), "Custom Id cannot be integers");
  refused(new_job(R"({"jobId":"0"})"), "cannot be '0'");
  refused(new_job(R"({"jobId":"a:b"})"), "Custom Id cannot contain :");
  refused(new_job(R"({"failParentOnFailure":true,"ignoreDependencyOnFailure":true})"),
          "cannot be used together: failParentOnFailure, ignoreDependencyOnFailure");
  refused(new_job(R"({"priority":1.5})"), "Priority should not be float");
  refused(new_job(R"({"priority":2097152})"), "Priority should be between 0 and 2097151");
  refused(new_job(R"({"deduplication":{}})"), "Deduplication id must be provided");
  refused(new_job(R"({"deduplication":{"id":"x"},"parent":{"id":"1","queue":"bull:q"}})"),
          "Deduplication and parent options cannot be used together");
  refused(new_job(R"({"debounce":{"id":"x"}})"), "Debounce option has been removed");
  refused(new_job(R"({"backoff":{"type":"fixed","delay":1,"jitter":2}})"), "Jitter");
  refused(new_job(R"({"sizeLimit":3})"), "exceeds the limit 3 bytes");
  refused(new_job("[1]"), "must be a JSON object");
  refused(new_job("{}", "{nope"), "data is not valid JSON");
  NewJob child = new_job(R"({"parent":{"id":"1","queue":"bull:q"}})");
  child.as_child = true;
  refused(child, "drop the 'parent' option", NewJobParent{"7", "bull:q"});
  CHECK_THROWS_WITH_AS(plan_new_job(new_job(), QueueKeys("bull", "a:b"), std::nullopt, 1),
                       doctest::Contains("contains ':'"), std::invalid_argument);
  // Allowed: a jobId with exactly two colons (Node keeps it for old repeatable jobs).
  CHECK(plan_new_job(new_job(R"({"jobId":"a:b:c"})"), kQueue, std::nullopt, 1).job_id == "a:b:c");
}

TEST_CASE("the add scripts' negative replies in Node's words") {
  NewJobPlan plan;
  plan.parent_key = "bull:q:7";
  CHECK(add_job_error_message(-5, plan) == "Missing key for parent job bull:q:7. addJob");
}
