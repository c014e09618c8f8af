// The conformance processor burn-cpu: burns data.ms of its own thread's CPU
// time, stops when the job is cancelled, refuses bad data.
#include <doctest/doctest.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "bullmq/processor.hpp"
#include "processing/conformance/conformance_processors.hpp"

using namespace std::chrono_literals;
using bullmq_worker::Job;

namespace {

// Only cancellation matters to burn-cpu; any other call is a test failure.
class CancelOnlyContext final : public bullmq_worker::JobContext {
 public:
  std::atomic<bool> cancel{false};
  std::atomic<int> polls{0};

  bool cancelled() const override {
    const_cast<std::atomic<int>&>(polls).fetch_add(1);
    return cancel.load();
  }
  bool sleep_for(std::chrono::milliseconds) override { unexpected("sleep_for"); }
  void update_progress(std::string_view) override { unexpected("update_progress"); }
  void log(std::string_view) override { unexpected("log"); }
  void update_data(std::string_view) override { unexpected("update_data"); }
  [[noreturn]] void move_to_delayed(std::chrono::milliseconds) override {
    unexpected("move_to_delayed");
  }
  [[noreturn]] void move_to_wait() override { unexpected("move_to_wait"); }
  void move_to_waiting_children() override { unexpected("move_to_waiting_children"); }
  void rate_limit(std::chrono::milliseconds) override { unexpected("rate_limit"); }
  std::string add_job(const bullmq_worker::NewJob&) override { unexpected("add_job"); }
  bullmq_worker::Dependencies dependencies() override { unexpected("dependencies"); }
  bullmq_worker::DependencyCounts dependency_counts() override { unexpected("dependency_counts"); }
  std::map<std::string, std::string> children_values() override { unexpected("children_values"); }
  std::map<std::string, std::string> ignored_children_failures() override {
    unexpected("ignored_children_failures");
  }
  void remove_unprocessed_children() override { unexpected("remove_unprocessed_children"); }

 private:
  [[noreturn]] static void unexpected(const char* call) {
    throw std::logic_error(std::string("burn-cpu called JobContext::") + call);
  }
};

bullmq::Processor& burn_cpu() {
  static bullmq::ProcessorRegistry registry = [] {
    bullmq::ProcessorRegistry r;
    processing::register_conformance_processors(r);
    return r;
  }();
  bullmq::Processor* p = registry.find("burn-cpu");
  REQUIRE(p != nullptr);
  return *p;
}

Job job_with(std::string data) {
  Job job;
  job.queue = "q";
  job.id = "1";
  job.name = "burn-cpu";
  job.data = std::move(data);
  return job;
}

std::int64_t thread_cpu_ms() {
  timespec ts{};
  REQUIRE(::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// The N of a `{"burnedMs":N}` return value.
std::int64_t burned_ms(const std::string& result) {
  const std::string head = "{\"burnedMs\":";
  REQUIRE(result.rfind(head, 0) == 0);
  REQUIRE(result.back() == '}');
  return std::stoll(result.substr(head.size(), result.size() - head.size() - 1));
}

}  // namespace

TEST_CASE("burn-cpu runs on a processing thread, not inline") {
  CHECK_FALSE(burn_cpu().runs_inline());
}

TEST_CASE("burn-cpu burns data.ms of this thread's CPU time and says how much") {
  CancelOnlyContext context;
  const std::int64_t cpu0 = thread_cpu_ms();
  const auto wall0 = std::chrono::steady_clock::now();
  const std::string result = burn_cpu().process(job_with(R"({"ms":80})"), context);
  const std::int64_t cpu = thread_cpu_ms() - cpu0;
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - wall0)
                        .count();
  const std::int64_t reported = burned_ms(result);
  CHECK(reported >= 80);
  CHECK(reported < 80 + 50);         // stops within a round of the goal, not much later
  CHECK(cpu >= 80);                  // the caller's thread paid for it: its own CPU clock moved
  CHECK(wall >= cpu - 1);            // (1 ms: the two clocks round differently)
  CHECK(context.polls.load() > 10);  // looked for cancellation all along
}

TEST_CASE("burn-cpu: default 300 ms; 0 ms returns at once") {
  CancelOnlyContext context;
  CHECK(burned_ms(burn_cpu().process(job_with("{}"), context)) >= 300);
  CHECK(burn_cpu().process(job_with(R"({"ms":0})"), context) == R"({"burnedMs":0})");
}

TEST_CASE("burn-cpu stops soon after the job is cancelled, and fails the run") {
  CancelOnlyContext context;
  std::thread canceller([&] {
    std::this_thread::sleep_for(50ms);
    context.cancel = true;
  });
  const auto wall0 = std::chrono::steady_clock::now();
  std::string message;
  try {
    burn_cpu().process(job_with(R"({"ms":60000})"), context);
  } catch (const bullmq_worker::UnrecoverableError&) {
    FAIL("a cancelled burn is not an unrecoverable failure");
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  canceller.join();
  const auto wall = std::chrono::steady_clock::now() - wall0;
  CHECK(message.find("cancelled") != std::string::npos);
  CHECK(wall < 5s);  // not the 60 s asked for
}

TEST_CASE("burn-cpu already cancelled: burns nothing") {
  CancelOnlyContext context;
  context.cancel = true;
  const std::int64_t cpu0 = thread_cpu_ms();
  CHECK_THROWS_WITH_AS(burn_cpu().process(job_with(R"({"ms":60000})"), context),
                       doctest::Contains("after 0 ms: the job was cancelled"), std::runtime_error);
  CHECK(thread_cpu_ms() - cpu0 < 20);
}

TEST_CASE("burn-cpu refuses bad data as unrecoverable") {
  CancelOnlyContext context;
  for (const char* data : {R"({"ms":-1})", R"({"ms":3600001})", R"({"ms":"300"})", "[300]", "{"}) {
    CAPTURE(data);
    CHECK_THROWS_AS(burn_cpu().process(job_with(data), context), bullmq_worker::UnrecoverableError);
  }
}
