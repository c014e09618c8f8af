#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <csignal>
#include <stdexcept>
#include <string>

#include "processing/command/command_protocol.hpp"

using namespace processing;

namespace {

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document document;
  document.Parse(text.c_str());
  REQUIRE_FALSE(document.HasParseError());
  return document;
}

std::string error_of(std::string_view line) {
  try {
    parse_request(line);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

RunFacts exited_with(int code, std::string out = "", std::string err = "") {
  RunFacts facts;
  facts.exited = true;
  facts.exit_code = code;
  facts.stdout_text = std::move(out);
  facts.stderr_tail = std::move(err);
  return facts;
}

}  // namespace

TEST_CASE("the job document carries every field, data and opts as JSON") {
  bullmq_worker::Job job;
  job.queue = "images";
  job.id = "42";
  job.name = "resize";
  job.data = R"({"w":10,"s":"ü"})";
  job.opts_json = R"({"attempts":3})";
  job.parent_key = "bull:parents:p:7";
  job.timestamp_ms = 1000;
  job.processed_on_ms = 2000;
  job.attempts_made = 1;
  job.attempts_started = 2;
  const auto doc =
      parse(job_document(job, {{"bull:images:c1", "[1,2]"}, {"bull:images:c2", "oops"}}));
  CHECK(std::string(doc["id"].GetString()) == "42");
  CHECK(std::string(doc["name"].GetString()) == "resize");
  CHECK(std::string(doc["queue"].GetString()) == "images");
  CHECK(doc["data"]["w"].GetInt() == 10);
  CHECK(std::string(doc["data"]["s"].GetString()) == "ü");
  CHECK(doc["opts"]["attempts"].GetInt() == 3);
  CHECK(doc["attemptsMade"].GetInt() == 1);
  CHECK(doc["attemptsStarted"].GetInt() == 2);
  CHECK(doc["attempt"].GetInt() == 2);
  CHECK(doc["timestamp"].GetInt64() == 1000);
  CHECK(doc["processedOn"].GetInt64() == 2000);
  CHECK(std::string(doc["parentKey"].GetString()) == "bull:parents:p:7");
  CHECK(std::string(doc["parent"]["id"].GetString()) == "7");
  CHECK(std::string(doc["parent"]["queueKey"].GetString()) == "bull:parents:p");
  CHECK(doc["childrenValues"]["bull:images:c1"].IsArray());
  CHECK(std::string(doc["childrenValues"]["bull:images:c2"].GetString()) == "oops");
}

TEST_CASE("a job without parent has null parent fields; invalid data becomes a string") {
  bullmq_worker::Job job;
  job.data = "{not json";
  const auto doc = parse(job_document(job, {}));
  CHECK(doc["parent"].IsNull());
  CHECK(doc["parentKey"].IsNull());
  CHECK(std::string(doc["data"].GetString()) == "{not json");
  CHECK(doc["childrenValues"].ObjectEmpty());
}

TEST_CASE("requests parse with their fields") {
  auto progress = parse_request(R"({"op":"progress","value":{"pct":5}})");
  CHECK(progress.op == CommandOp::progress);
  CHECK(progress.json == R"({"pct":5})");
  CHECK(parse_request(R"({"op":"progress","value":"text"})").json == R"("text")");
  auto log = parse_request(R"({"op":"log","line":"a \"b\""})");
  CHECK(log.op == CommandOp::log);
  CHECK(log.text == "a \"b\"");
  CHECK(parse_request(R"({"op":"update-data","data":[1]})").json == "[1]");
  auto delay = parse_request(R"({"op":"delay","ms":1500})");
  CHECK(delay.op == CommandOp::delay);
  CHECK(delay.ms == 1500);
  CHECK(parse_request(R"({"op":"rate-limit","ms":0})").op == CommandOp::rate_limit);
  CHECK(parse_request(R"({"op":"wait"})").op == CommandOp::wait);
  CHECK(parse_request(R"({"op":"waiting-children"})").op == CommandOp::waiting_children);
  CHECK(parse_request(R"({"op":"dependencies"})").op == CommandOp::dependencies);
  CHECK(parse_request(R"({"op":"dependency-counts"})").op == CommandOp::dependency_counts);
  CHECK(parse_request(R"({"op":"children-values"})").op == CommandOp::children_values);
  CHECK(parse_request(R"({"op":"ignored-children-failures"})").op ==
        CommandOp::ignored_children_failures);
  CHECK(parse_request(R"({"op":"remove-unprocessed-children"})").op ==
        CommandOp::remove_unprocessed_children);
  auto fail = parse_request(R"({"op":"fail","message":"bad","unrecoverable":true})");
  CHECK(fail.op == CommandOp::fail);
  CHECK(fail.text == "bad");
  CHECK(fail.unrecoverable);
  CHECK_FALSE(parse_request(R"({"op":"fail","message":"x"})").unrecoverable);
}

TEST_CASE("add-job: name required; data, opts, queue and child optional") {
  auto plain = parse_request(R"({"op":"add-job","name":"n"})");
  CHECK(plain.new_job.name == "n");
  CHECK(plain.new_job.data == "{}");
  CHECK(plain.new_job.opts == "{}");
  CHECK(plain.new_job.queue.empty());
  CHECK_FALSE(plain.new_job.as_child);
  auto full = parse_request(
      R"({"op":"add-job","name":"n","data":{"a":1},"opts":{"jobId":"x"},"queue":"q","child":true})");
  CHECK(full.new_job.data == R"({"a":1})");
  CHECK(full.new_job.opts == R"({"jobId":"x"})");
  CHECK(full.new_job.queue == "q");
  CHECK(full.new_job.as_child);
  CHECK(error_of(R"({"op":"add-job"})") == "add-job needs \"name\"");
  CHECK(error_of(R"({"op":"add-job","name":"n","opts":[1]})") ==
        "add-job: \"opts\" must be an object");
  CHECK(error_of(R"({"op":"add-job","name":"n","child":"yes"})") ==
        "add-job: \"child\" must be true or false");
}

TEST_CASE("malformed requests are refused with a message for the reply") {
  CHECK(error_of("not json").starts_with("a request must be one JSON object per line"));
  CHECK(error_of("[1]") == "a request must be a JSON object");
  CHECK(error_of(R"({"value":1})") == "a request needs an \"op\" string");
  CHECK(error_of(R"({"op":"nope"})") == "unknown op \"nope\"");
  CHECK(error_of(R"({"op":"progress"})") == "progress needs \"value\"");
  CHECK(error_of(R"({"op":"log","line":3})") == "log: \"line\" must be a string");
  CHECK(error_of(R"({"op":"delay","ms":-5})") == "delay: \"ms\" must be an integer of at least 0");
  CHECK(error_of(R"({"op":"delay","ms":1.5})") == "delay: \"ms\" must be an integer of at least 0");
  CHECK(error_of("{\"op\":\"log\",\"line\":\"\xff\"}").starts_with("a request must be"));
}

TEST_CASE("replies are one JSON line each") {
  CHECK(reply_ok() == "{\"ok\":true}\n");
  CHECK(reply_error("no \"way\"") == "{\"ok\":false,\"error\":\"no \\\"way\\\"\"}\n");
  CHECK(reply_job_id("7") == "{\"ok\":true,\"id\":\"7\"}\n");
  CHECK(reply_parked(true) == "{\"ok\":true,\"parked\":true}\n");
  bullmq_worker::Dependencies deps;
  deps.processed = {{"bull:q:a", "1"}};
  deps.unprocessed = {"bull:q:b"};
  deps.failed = {"bull:q:c"};
  deps.ignored = {{"bull:q:d", "boom"}};
  CHECK(reply_dependencies(deps) ==
        "{\"ok\":true,\"processed\":{\"bull:q:a\":1},\"unprocessed\":[\"bull:q:b\"],"
        "\"failed\":[\"bull:q:c\"],\"ignored\":{\"bull:q:d\":\"boom\"}}\n");
  CHECK(reply_counts({1, 2, 3, 4}) ==
        "{\"ok\":true,\"processed\":1,\"unprocessed\":2,\"failed\":3,\"ignored\":4}\n");
  CHECK(reply_map("values", {{"k", "{\"a\":1}"}}, true) ==
        "{\"ok\":true,\"values\":{\"k\":{\"a\":1}}}\n");
  CHECK(reply_map("failures", {{"k", "{\"a\":1}"}}, false) ==
        "{\"ok\":true,\"failures\":{\"k\":\"{\\\"a\\\":1}\"}}\n");
}

TEST_CASE("exit 0: stdout is the return value; empty is null; not JSON fails") {
  auto done = decide_outcome(exited_with(0, " {\"a\": [1, 2]}\n"));
  CHECK(done.kind == OutcomeKind::completed);
  CHECK(done.text == "{\"a\": [1, 2]}");
  CHECK(decide_outcome(exited_with(0, "\n")).text == "null");
  CHECK(decide_outcome(exited_with(0, "42")).text == "42");
  auto bad = decide_outcome(exited_with(0, "hello"));
  CHECK(bad.kind == OutcomeKind::failed);
  CHECK(bad.text.find("stdout is not JSON") != std::string::npos);
  CHECK(bad.text.ends_with(": hello"));
  CHECK(decide_outcome(exited_with(0, "{} {}")).kind == OutcomeKind::failed);
}

TEST_CASE("other exits: 65 is unrecoverable, the rest a failed attempt with stderr's last lines") {
  auto unrecoverable = decide_outcome(exited_with(65, "", "bad input\n"));
  CHECK(unrecoverable.kind == OutcomeKind::unrecoverable);
  CHECK(unrecoverable.text == "bad input");
  CHECK(decide_outcome(exited_with(65)).text ==
        "the command exited with status 65 (unrecoverable)");
  auto failed = decide_outcome(exited_with(1, "", "1\n2\n\n3\n4\n5\n6\n"));
  CHECK(failed.kind == OutcomeKind::failed);
  CHECK(failed.text == "2\n3\n4\n5\n6");
  CHECK(decide_outcome(exited_with(3)).text == "the command exited with status 3");
  CHECK(stderr_reason(std::string(5000, 'x')).size() == 2000);
  CHECK(stderr_reason("bad \xff byte\n") == "bad \xef\xbf\xbd byte");
  CHECK(decide_outcome(exited_with(0, "\xfe")).text.ends_with(": \xef\xbf\xbd"));
}

TEST_CASE("signals, time limit, bounds and cancellation") {
  RunFacts crashed;
  crashed.signal = SIGSEGV;
  crashed.stderr_tail = "core\n";
  CHECK(decide_outcome(crashed).text == "the command was killed by SIGSEGV: core");
  RunFacts cpu;
  cpu.signal = SIGXCPU;
  cpu.cpu_seconds = 2;
  CHECK(
      decide_outcome(cpu).text.starts_with("the command used more than its CPU time limit of 2 s"));
  RunFacts slow;
  slow.signal = SIGTERM;
  slow.timed_out = true;
  slow.timeout_ms = 500;
  CHECK(decide_outcome(slow).text ==
        "the command did not finish within its time limit of 500 ms and was terminated");
  RunFacts big = exited_with(0, "1");
  big.overflow = "it wrote more than 10 bytes to stdout";
  CHECK(decide_outcome(big).text ==
        "the command was terminated: it wrote more than 10 bytes to stdout");
  RunFacts cancelled = exited_with(0, "1");
  cancelled.cancelled = true;
  CHECK(decide_outcome(cancelled).kind == OutcomeKind::cancelled);
}

TEST_CASE("a move by request decides whatever the exit; a fail request beats the exit status") {
  RunFacts moved = exited_with(1);
  moved.move = CommandMove::delayed;
  moved.timed_out = true;
  auto outcome = decide_outcome(moved);
  CHECK(outcome.kind == OutcomeKind::moved);
  CHECK(outcome.move == CommandMove::delayed);
  RunFacts failed = exited_with(0, "{}");
  failed.fail_message = "no such customer";
  failed.fail_unrecoverable = true;
  CHECK(decide_outcome(failed).kind == OutcomeKind::unrecoverable);
  CHECK(decide_outcome(failed).text == "no such customer");
  failed.fail_unrecoverable = false;
  CHECK(decide_outcome(failed).kind == OutcomeKind::failed);
}
