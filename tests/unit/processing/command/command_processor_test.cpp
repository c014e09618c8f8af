#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "processing/command/command_processor.hpp"

using namespace std::chrono_literals;
using bullmq_worker::Job;

namespace {

// Records what the program asked for; answers like a worker would.
class FakeContext final : public bullmq_worker::JobContext {
 public:
  std::vector<std::string> calls;
  bool cancel = false;

  void update_progress(std::string_view json) override {
    calls.push_back("progress " + std::string(json));
  }
  void log(std::string_view line) override { calls.push_back("log " + std::string(line)); }
  void update_data(std::string_view json) override { calls.push_back("data " + std::string(json)); }
  [[noreturn]] void move_to_delayed(std::chrono::milliseconds delay) override {
    calls.push_back("delay " + std::to_string(delay.count()));
    throw bullmq_worker::DelayedError();
  }
  [[noreturn]] void move_to_wait() override { throw bullmq_worker::WaitingError(); }
  void move_to_waiting_children() override {}
  void rate_limit(std::chrono::milliseconds) override {}
  std::string add_job(const bullmq_worker::NewJob&) override {
    throw bullmq_worker::DependencyUnavailable("redis", "redis is down");
  }
  bullmq_worker::Dependencies dependencies() override { return {}; }
  bullmq_worker::DependencyCounts dependency_counts() override { return {}; }
  std::map<std::string, std::string> children_values() override { return {{"bull:q:c", "7"}}; }
  std::map<std::string, std::string> ignored_children_failures() override { return {}; }
  void remove_unprocessed_children() override {}
  bool cancelled() const override { return cancel; }
  bool sleep_for(std::chrono::milliseconds) override { return !cancel; }
};

struct Harness {
  processing::CommandLimits limits;
  std::vector<std::string> stderr_lines;
  FakeContext context;
  Job job;

  Harness() {
    ::signal(SIGPIPE, SIG_IGN);  // as the worker does
    job.queue = "q";
    job.id = "1";
    job.name = "sh";
    limits.timeout = 10s;
    limits.kill_grace = 300ms;
  }

  std::string run(const std::string& script) {
    processing::CommandSpec spec{"sh", "/bin/sh", {"-c", script}};
    processing::CommandProcessor processor(spec, limits, [this](const Job&, std::string_view line) {
      stderr_lines.emplace_back(line);
    });
    return processor.process(job, context);
  }
};

std::string failure_of(Harness& harness, const std::string& script) {
  try {
    harness.run(script);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no failure";
}

}  // namespace

TEST_CASE("the program gets the job on stdin, fd 3 for requests and nothing else open") {
  Harness harness;
  CHECK(harness.run(
            "ls /proc/self/fd | sort -n | tr '\\n' ' ' >&2; echo \"\\\"$BULLMQ_CHANNEL_FD\\\"\"") ==
        "\"3\"");
  // 0-3, plus the descriptor ls reads the directory with.
  REQUIRE(harness.stderr_lines.size() == 1);
  CHECK(harness.stderr_lines[0].starts_with("0 1 2 3 4 "));
  CHECK(harness.stderr_lines[0].size() == std::string("0 1 2 3 4 ").size());
  harness.job.data = "{\"big\":\"" + std::string(1 << 20, 'x') + "\"}";
  CHECK(harness.run("wc -c") == std::to_string(harness.run("cat").size() + 1));
}

TEST_CASE("requests are served in order and answered on fd 3") {
  Harness harness;
  const std::string result = harness.run(
      "printf '%s\\n' '{\"op\":\"progress\",\"value\":1}' '{\"op\":\"log\",\"line\":\"hi\"}' "
      "'{\"op\":\"children-values\"}' '{\"op\":\"nope\"}' >&3; "
      "head -n 4 <&3 | paste -sd, | sed 's/.*/[&]/'");
  CHECK(harness.context.calls == std::vector<std::string>{"progress 1", "log hi"});
  CHECK(result ==
        "[{\"ok\":true},{\"ok\":true},{\"ok\":true,\"values\":{\"bull:q:c\":7}},"
        "{\"ok\":false,\"error\":\"unknown op \\\"nope\\\"\"}]");
  CHECK(harness.stderr_lines.empty());
}

TEST_CASE("a delay request moves the job whatever the exit status") {
  Harness harness;
  CHECK_THROWS_AS(
      harness.run("echo '{\"op\":\"delay\",\"ms\":250}' >&3; head -n 1 <&3 >/dev/null; exit 4"),
      bullmq_worker::DelayedError);
  CHECK(harness.context.calls == std::vector<std::string>{"delay 250"});
}

TEST_CASE("Redis down during a request: the program is stopped and the job deferred") {
  Harness harness;
  CHECK_THROWS_AS(harness.run("echo '{\"op\":\"add-job\",\"name\":\"x\"}' >&3; sleep 30"),
                  bullmq_worker::DependencyUnavailable);
}

TEST_CASE("cancellation and the time limit stop the whole process group") {
  Harness harness;
  harness.context.cancel = true;
  const auto started = std::chrono::steady_clock::now();
  CHECK(failure_of(harness, "sleep 30 & sleep 30") ==
        "the command was terminated: the job's lock was lost or the worker is shutting down");
  CHECK(std::chrono::steady_clock::now() - started < 5s);

  Harness slow;
  slow.limits.timeout = 300ms;
  CHECK(failure_of(slow, "trap '' TERM; sleep 30")
            .starts_with("the command did not finish within its time limit of 300 ms"));
}

TEST_CASE("a background process left in the group does not hold the run open") {
  Harness harness;
  const auto started = std::chrono::steady_clock::now();
  CHECK(harness.run("sleep 30 & echo 5") == "5");
  CHECK(std::chrono::steady_clock::now() - started < 5s);
}

TEST_CASE("stderr lines are passed on, bounded per run") {
  Harness harness;
  CHECK(failure_of(harness,
                   "i=0; while [ $i -lt 250 ]; do echo line $i >&2; i=$((i+1)); done; exit 2") ==
        "line 245\nline 246\nline 247\nline 248\nline 249");
  CHECK(harness.stderr_lines.size() == 201);
  CHECK(harness.stderr_lines.back() == "(further stderr lines of this run are not logged)");
}
