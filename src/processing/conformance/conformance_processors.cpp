#include "processing/conformance/conformance_processors.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <sys/stat.h>
#include <time.h>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bullmq/json.hpp"

namespace processing {
namespace {

using bullmq::JobContext;
using bullmq::UnrecoverableError;
using bullmq_worker::Job;

// Parses the job data; anything but a JSON object is bad input.
rapidjson::Document parse_data(const Job& job) {
  rapidjson::Document doc;
  doc.Parse(job.data.c_str(), job.data.size());
  if (doc.HasParseError()) {
    throw UnrecoverableError("job data of '" + job.name + "' is not valid JSON");
  }
  if (!doc.IsObject())
    throw UnrecoverableError("job data of '" + job.name + "' must be a JSON object");
  return doc;
}

std::int64_t int_field(const rapidjson::Value& data, const char* name, std::int64_t fallback,
                       const Job& job) {
  auto it = data.FindMember(name);
  if (it == data.MemberEnd() || it->value.IsNull()) return fallback;
  if (!it->value.IsNumber()) {
    throw UnrecoverableError("field '" + std::string(name) + "' of '" + job.name +
                             "' must be a number");
  }
  return it->value.IsInt64() ? it->value.GetInt64()
                             : static_cast<std::int64_t>(it->value.GetDouble());
}

std::string string_field(const rapidjson::Value& data, const char* name,
                         const std::string& fallback, const Job& job) {
  auto it = data.FindMember(name);
  if (it == data.MemberEnd() || it->value.IsNull()) return fallback;
  if (!it->value.IsString()) {
    throw UnrecoverableError("field '" + std::string(name) + "' of '" + job.name +
                             "' must be a string");
  }
  return {it->value.GetString(), it->value.GetStringLength()};
}

const rapidjson::Value* array_field(const rapidjson::Value& data, const char* name,
                                    const Job& job) {
  auto it = data.FindMember(name);
  if (it == data.MemberEnd() || it->value.IsNull()) return nullptr;
  if (!it->value.IsArray()) {
    throw UnrecoverableError("field '" + std::string(name) + "' of '" + job.name +
                             "' must be an array");
  }
  return &it->value;
}

std::string to_json(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return buffer.GetString();
}

std::string object1(const char* key, const std::string& json_value) {
  return std::string("{\"") + key + "\":" + json_value + "}";
}

// Adapts a function to the Processor interface.
class FunctionProcessor final : public bullmq::Processor {
 public:
  using Fn = std::function<std::string(const Job&, JobContext&)>;
  FunctionProcessor(Fn fn, bool runs_inline) : fn_(std::move(fn)), runs_inline_(runs_inline) {}
  std::string process(const Job& job, JobContext& context) override { return fn_(job, context); }
  bool runs_inline() const override { return runs_inline_; }

 private:
  Fn fn_;
  bool runs_inline_;
};

std::string echo(const Job& job, JobContext&) {
  if (!bullmq::is_json(job.data)) throw UnrecoverableError("job data of 'echo' is not valid JSON");
  return job.data;
}

std::string sleep(const Job& job, JobContext& context) {
  auto data = parse_data(job);
  const std::int64_t ms = int_field(data, "ms", 100, job);
  if (ms < 0) throw UnrecoverableError("field 'ms' of 'sleep' may not be negative");
  if (!context.sleep_for(std::chrono::milliseconds(ms))) {
    throw std::runtime_error("sleep interrupted: the job was cancelled");
  }
  return object1("slept", std::to_string(ms));
}

// CPU time this thread has used, ns (CLOCK_THREAD_CPUTIME_ID: time spent
// waiting for a CPU or sleeping does not count).
std::int64_t thread_cpu_ns() {
  timespec ts{};
  if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
    throw std::runtime_error("burn-cpu: clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
  }
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Makes the compiler treat `value` as used, so the work that computed it stays.
void keep(std::uint64_t& value) {
  __asm__ __volatile__("" : "+r"(value));
}

// Burns `data.ms` (default 300) ms of this thread's CPU time on integer
// arithmetic, checking the clock and the context's cancellation between
// short rounds (well under a millisecond), as a CPU-bound processor should.
// Cancelled (lock lost, shutdown deadline): stops and fails the run. For
// benchmarks of CPU-heavy jobs (scripts/bench.sh --scenario cpu).
std::string burn_cpu(const Job& job, JobContext& context) {
  auto data = parse_data(job);
  constexpr std::int64_t kMaxMs = 3'600'000;
  const std::int64_t ms = int_field(data, "ms", 300, job);
  if (ms < 0 || ms > kMaxMs) {
    throw UnrecoverableError("field 'ms' of 'burn-cpu' must be in [0, " + std::to_string(kMaxMs) +
                             "]");
  }
  const std::int64_t start = thread_cpu_ns();
  const std::int64_t goal = ms * 1'000'000;
  std::int64_t burned = 0;
  std::uint64_t x = 0x9e3779b97f4a7c15ULL ^ static_cast<std::uint64_t>(start);
  while (burned < goal) {
    if (context.cancelled()) {
      throw std::runtime_error("burn-cpu interrupted after " + std::to_string(burned / 1'000'000) +
                               " ms: the job was cancelled");
    }
    for (int i = 0; i < 10000; ++i) {  // xorshift-multiply, ~40 µs on a 2-CPU VM
      x ^= x >> 12;
      x ^= x << 25;
      x ^= x >> 27;
      x *= 0x2545f4914f6cdd1dULL;
    }
    keep(x);
    burned = thread_cpu_ns() - start;
  }
  return object1("burnedMs", std::to_string(burned / 1'000'000));
}

std::string fail(const Job& job, JobContext&) {
  auto data = parse_data(job);
  throw std::runtime_error(string_field(data, "message", "conformance failure", job));
}

std::string fail_unrecoverable(const Job& job, JobContext&) {
  auto data = parse_data(job);
  throw UnrecoverableError(string_field(data, "message", "conformance failure", job));
}

std::string flaky(const Job& job, JobContext&) {
  auto data = parse_data(job);
  const std::int64_t succeed_on = int_field(data, "succeedOnAttempt", 1, job);
  const int attempt = job.attempt();
  if (attempt < succeed_on) throw std::runtime_error("flaky attempt " + std::to_string(attempt));
  return object1("attempt", std::to_string(attempt));
}

std::string progress(const Job& job, JobContext& context) {
  auto data = parse_data(job);
  const rapidjson::Value* steps = array_field(data, "steps", job);
  const std::int64_t interval = int_field(data, "intervalMs", 10, job);
  std::size_t count = 0;
  if (steps) {
    for (const auto& step : steps->GetArray()) {  // any JSON value, as Node's updateProgress
      if (count > 0 && !context.sleep_for(std::chrono::milliseconds(interval))) {
        throw std::runtime_error("progress interrupted: the job was cancelled");
      }
      context.update_progress(to_json(step));
      ++count;
    }
  }
  return object1("steps", std::to_string(count));
}

std::string log(const Job& job, JobContext& context) {
  auto data = parse_data(job);
  const rapidjson::Value* lines = array_field(data, "lines", job);
  std::size_t count = 0;
  if (lines) {
    for (const auto& line : lines->GetArray()) {
      if (!line.IsString()) throw UnrecoverableError("each log line must be a string");
      context.log(std::string_view(line.GetString(), line.GetStringLength()));
      ++count;
    }
  }
  return object1("logged", std::to_string(count));
}

std::string delay(const Job& job, JobContext& context) {
  auto data = parse_data(job);
  if (string_field(data, "step", "", job) == "done") return R"({"resumed":true})";
  const std::int64_t ms = int_field(data, "ms", 1000, job);
  if (ms < 0) throw UnrecoverableError("field 'ms' of 'delay' may not be negative");
  auto& alloc = data.GetAllocator();
  if (auto it = data.FindMember("step"); it != data.MemberEnd()) {
    it->value.SetString("done", alloc);
  } else {
    data.AddMember("step", "done", alloc);
  }
  context.update_data(to_json(data));
  context.move_to_delayed(std::chrono::milliseconds(ms));
  throw bullmq::DelayedError();  // move_to_delayed always throws; this keeps the contract visible
}

bool bool_field(const rapidjson::Value& data, const char* name, const Job& job) {
  auto it = data.FindMember(name);
  if (it == data.MemberEnd() || it->value.IsNull()) return false;
  if (!it->value.IsBool()) {
    throw UnrecoverableError("field '" + std::string(name) + "' of '" + job.name +
                             "' must be true or false");
  }
  return it->value.GetBool();
}

// Sets `name` to `value` in the job data and stores it (Job.updateData).
template <typename T>
void store_field(rapidjson::Document& data, const char* name, T value, JobContext& context) {
  auto& alloc = data.GetAllocator();
  rapidjson::Value v(value);
  if (auto it = data.FindMember(name); it != data.MemberEnd()) {
    it->value = v;
  } else {
    data.AddMember(rapidjson::StringRef(name), v, alloc);
  }
  context.update_data(to_json(data));
}

std::string sum_children(const Job&, JobContext& context) {
  double sum = 0;
  for (const auto& [child, value_json] : context.children_values()) {
    rapidjson::Document value;
    value.Parse(value_json.c_str(), value_json.size());
    if (value.HasParseError() || !value.IsObject()) continue;
    auto it = value.FindMember("value");
    if (it != value.MemberEnd() && it->value.IsNumber()) sum += it->value.GetDouble();
  }
  rapidjson::Value number;
  if (sum == static_cast<double>(static_cast<std::int64_t>(sum))) {
    number.SetInt64(static_cast<std::int64_t>(sum));
  } else {
    number.SetDouble(sum);
  }
  return object1("sum", to_json(number));
}

std::string rate_limit(const Job& job, JobContext& context) {
  auto data = parse_data(job);
  if (bool_field(data, "done", job)) return R"({"rateLimited":true})";
  const std::int64_t ms = int_field(data, "ms", 500, job);
  if (ms < 1) throw UnrecoverableError("field 'ms' of 'rate-limit' must be at least 1");
  store_field(data, "done", true, context);
  context.rate_limit(std::chrono::milliseconds(ms));
  throw bullmq::RateLimitError();
}

std::string move_to_wait(const Job& job, JobContext& context) {
  auto data = parse_data(job);
  if (bool_field(data, "done", job)) return R"({"waited":true})";
  store_field(data, "done", true, context);
  context.move_to_wait();
  throw bullmq::WaitingError();  // move_to_wait always throws; this keeps the contract visible
}

std::string spawn_children(const Job& job, JobContext& context) {
  auto data = parse_data(job);
  if (string_field(data, "step", "", job) != "waiting") {
    const std::int64_t count = int_field(data, "count", 3, job);
    const std::string queue = string_field(data, "queue", "", job);  // empty: its own
    if (count < 0 || count > 10000)
      throw UnrecoverableError("field 'count' of 'spawn-children' must be in [0, 10000]");
    for (std::int64_t i = 1; i <= count; ++i) {
      bullmq_worker::NewJob child;
      child.name = "echo";
      child.data = object1("value", std::to_string(i));
      child.as_child = true;
      child.queue = queue;
      context.add_job(child);
    }
    rapidjson::Value waiting("waiting");
    auto& alloc = data.GetAllocator();
    if (auto it = data.FindMember("step"); it != data.MemberEnd()) {
      it->value = waiting;
    } else {
      data.AddMember("step", waiting, alloc);
    }
    context.update_data(to_json(data));
    context.move_to_waiting_children();  // throws when parked; returns when all are done
  }
  return sum_children(job, context);
}

std::string add_job(const Job& job, JobContext& context) {
  auto data = parse_data(job);
  bullmq_worker::NewJob added;
  added.name = string_field(data, "name", "echo", job);
  added.queue = string_field(data, "queue", "", job);
  if (auto it = data.FindMember("data"); it != data.MemberEnd()) added.data = to_json(it->value);
  if (auto it = data.FindMember("opts"); it != data.MemberEnd()) added.opts = to_json(it->value);
  rapidjson::Value id;
  const std::string new_id = context.add_job(added);
  id.SetString(new_id.c_str(), static_cast<rapidjson::SizeType>(new_id.size()));
  return object1("id", to_json(id));
}

std::string dependencies(const Job& job, JobContext& context) {
  auto data = parse_data(job);
  const auto counts = context.dependency_counts();
  std::string out = "{\"processed\":";
  out += std::to_string(counts.processed);
  out += ",\"unprocessed\":";
  out += std::to_string(counts.unprocessed);
  out += ",\"failed\":";
  out += std::to_string(counts.failed);
  out += ",\"ignored\":";
  out += std::to_string(counts.ignored);
  if (bool_field(data, "keys", job)) {
    // The children themselves (JobContext::dependencies), sorted keys.
    const auto deps = context.dependencies();
    rapidjson::Document children(rapidjson::kObjectType);
    auto& a = children.GetAllocator();
    auto keys = [&](const char* name, auto&& range, auto&& key_of) {
      std::vector<std::string> list;
      for (const auto& e : range) list.push_back(key_of(e));
      std::sort(list.begin(), list.end());
      rapidjson::Value array(rapidjson::kArrayType);
      for (const auto& k : list) array.PushBack(rapidjson::Value(k.c_str(), a), a);
      children.AddMember(rapidjson::StringRef(name), array, a);
    };
    auto first = [](const auto& e) { return e.first; };
    auto self = [](const std::string& e) { return e; };
    keys("processed", deps.processed, first);
    keys("unprocessed", deps.unprocessed, self);
    keys("failed", deps.failed, self);
    keys("ignored", deps.ignored, first);
    out += ",\"children\":";
    out += to_json(children);
  }
  return out + "}";
}

std::string continue_parent(const Job& job, JobContext& context) {
  parse_data(job);
  context.remove_unprocessed_children();
  const auto deps = context.dependencies();
  // continueParentOnFailure children that failed are recorded with their
  // reasons (Node's getFailedChildrenValues); failParentOnFailure ones apart.
  return object1("failed", std::to_string(deps.ignored.size() + deps.failed.size()));
}

std::string inline_context(const Job&, JobContext& context) {
  context.log("an inline processor calling its context");  // fails the job clearly
  return R"({"unexpected":true})";
}

// The `needs-dependency` processor's dependency: up while the file named by
// BULLMQ_CONFORMANCE_SWITCH_FILE exists, so a test can take it down and up.
constexpr const char* kSwitchDependency = "conformance-switch";
constexpr const char* kSwitchFileVariable = "BULLMQ_CONFORMANCE_SWITCH_FILE";

const char* switch_file() {
  const char* path = std::getenv(kSwitchFileVariable);
  return path && *path ? path : nullptr;
}

std::string switch_problem() {
  const char* path = switch_file();
  if (!path) return std::string(kSwitchFileVariable) + " is not set";
  struct stat info {};
  if (::stat(path, &info) != 0) return std::string("the switch file ") + path + " is absent";
  return {};
}

std::string needs_dependency(const Job& job, JobContext&) {
  parse_data(job);
  if (!switch_file()) throw UnrecoverableError(std::string(kSwitchFileVariable) + " is not set");
  if (std::string problem = switch_problem(); !problem.empty())
    throw bullmq::DependencyUnavailable(kSwitchDependency, problem);
  return object1("ran", "true");
}

}  // namespace

void register_conformance_processors(bullmq::ProcessorRegistry& registry) {
  // Pure functions of the job run inline on the I/O thread; the ones that
  // sleep or talk to Redis through the context run on processing threads.
  auto add = [&](const char* name, FunctionProcessor::Fn fn, bool runs_inline) {
    registry.add(name, std::make_shared<FunctionProcessor>(std::move(fn), runs_inline));
  };
  add("echo", echo, true);
  add("fail", fail, true);
  add("fail-unrecoverable", fail_unrecoverable, true);
  add("flaky", flaky, true);
  add("sleep", sleep, false);
  add("burn-cpu", burn_cpu, false);  // a processing thread of its own, as CPU-bound work needs
  add("progress", progress, false);
  add("log", log, false);
  add("delay", delay, false);
  add("sum-children", sum_children, false);
  add("needs-dependency", needs_dependency, false);
  add("rate-limit", rate_limit, false);
  add("move-to-wait", move_to_wait, false);
  add("spawn-children", spawn_children, false);
  add("add-job", add_job, false);
  add("dependencies", dependencies, false);
  add("continue-parent", continue_parent, false);
  add("inline-context", inline_context, true);  // shows the failure of a context call inline
  // Retry delays of attemptsMade x 100 ms (backoff: {type: 'conformance-linear'}).
  registry.add_backoff_strategy(
      "conformance-linear",
      [](int attempts_made, std::string_view, std::string_view, const Job&) -> std::int64_t {
        return static_cast<std::int64_t>(attempts_made) * 100;
      });
  if (switch_file()) registry.add_dependency(kSwitchDependency, switch_problem);
}

}  // namespace processing
