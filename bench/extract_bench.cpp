// extract-bench: times document extraction the three ways the pipeline scenario of
// scripts/bench.sh compares (scripts/bench/README.md, "The document pipeline"):
//
//   inprocess  processing::extract_file() in this process (no process start);
//   isolated   processing::extract_file_isolated(): the sandboxed child the worker starts
//              for every document, with its time split (ExtractionTiming);
//   pooled     processing::ExtractorPool: a child that stays (`extract-file --serve`), the
//              worker's --documents-per-extractor; one pool for the whole plan, so after
//              the warm-up round its child is running;
//   command    any program run to completion through the same launcher the sandbox uses
//              (processing::run_child: posix_spawn, stdout collected through a pipe), e.g.
//              `bullmq-worker extract-file …` or poppler's `pdftotext`.
//
// The plan comes as one JSON object on stdin:
//   {"root": "/storage", "worker": "/path/bullmq-worker", "repeats": 20, "warmup": 2,
//    "items": [{"label": "a", "mode": "inprocess", "path": "x/a.pdf"},
//              {"label": "b", "mode": "isolated", "path": "x/a.pdf"},
//              {"label": "c", "mode": "command", "argv": ["/usr/bin/pdftotext", "…", "-"]}]}
// Every round runs every item once, in order (so whatever else the machine does hits the
// items alike); the first `warmup` rounds are not counted. Prints one JSON object: per item
// the wall and CPU µs of every counted round, and for isolated and pooled items the split.
// CPU: the calling thread's (CLOCK_THREAD_CPUTIME_ID) plus the reaped children's
// (RUSAGE_CHILDREN), so not a pooled child's (it is reaped only at the end).
// Exit status 1 if an item fails (an extraction error, a command exiting non-zero), 2 on a
// bad plan. A benchmark tool, not part of the product.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "processing/extraction/extraction.hpp"
#include "processing/extraction/isolated_extraction.hpp"
#include "processing/sandbox/child_process.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Item {
  std::string label;
  std::string mode;
  std::string path;               // inprocess, isolated
  std::vector<std::string> argv;  // command
  std::vector<std::int64_t> wall_us, cpu_us, warmup_wall_us;
  std::vector<std::int64_t> sandbox_start_us, extract_us, sandbox_finish_us;
};

struct Plan {
  std::filesystem::path root;
  std::filesystem::path worker;
  int repeats = 10;
  int warmup = 1;
  std::vector<Item> items;
};

[[noreturn]] void bad_plan(const std::string& message) {
  std::cerr << "extract-bench: " << message << "\n";
  std::exit(2);
}

std::string string_of(const rapidjson::Value& object, const char* name, bool required = true) {
  const auto found = object.FindMember(name);
  if (found == object.MemberEnd() || !found->value.IsString()) {
    if (required) bad_plan(std::string("the plan needs a string '") + name + "'");
    return {};
  }
  return found->value.GetString();
}

int int_of(const rapidjson::Value& object, const char* name, int fallback) {
  const auto found = object.FindMember(name);
  if (found == object.MemberEnd()) return fallback;
  if (!found->value.IsInt() || found->value.GetInt() < 0) {
    bad_plan(std::string("'") + name + "' must be a whole number");
  }
  return found->value.GetInt();
}

Plan read_plan() {
  const std::string text(std::istreambuf_iterator<char>(std::cin), {});
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) bad_plan("stdin is not a JSON object");
  Plan plan;
  plan.root = string_of(doc, "root", false);
  plan.worker = string_of(doc, "worker", false);
  plan.repeats = int_of(doc, "repeats", plan.repeats);
  plan.warmup = int_of(doc, "warmup", plan.warmup);
  const auto items = doc.FindMember("items");
  if (items == doc.MemberEnd() || !items->value.IsArray()) bad_plan("the plan needs 'items'");
  for (const auto& value : items->value.GetArray()) {
    if (!value.IsObject()) bad_plan("every item must be an object");
    Item item;
    item.label = string_of(value, "label");
    item.mode = string_of(value, "mode");
    if (item.mode == "inprocess" || item.mode == "isolated" || item.mode == "pooled") {
      item.path = string_of(value, "path");
      if (plan.root.empty()) bad_plan("items of mode " + item.mode + " need 'root'");
      if (item.mode != "inprocess" && plan.worker.empty()) {
        bad_plan(item.mode + " items need 'worker'");
      }
    } else if (item.mode == "command") {
      const auto argv = value.FindMember("argv");
      if (argv == value.MemberEnd() || !argv->value.IsArray() || argv->value.Empty()) {
        bad_plan("command items need a non-empty 'argv'");
      }
      for (const auto& arg : argv->value.GetArray()) {
        if (!arg.IsString()) bad_plan("argv holds strings only");
        item.argv.emplace_back(arg.GetString());
      }
    } else {
      bad_plan("unknown mode '" + item.mode + "' (inprocess, isolated, pooled or command)");
    }
    plan.items.push_back(std::move(item));
  }
  return plan;
}

std::int64_t thread_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

std::int64_t children_cpu_ns() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  auto ns = [](const timeval& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_usec * 1000;
  };
  return ns(usage.ru_utime) + ns(usage.ru_stime);
}

std::int64_t us_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
}

// Runs one item once; throws on failure.
void run_once(const Plan& plan, processing::ExtractorPool& pool, Item& item, bool counted) {
  const processing::ExtractionLimits limits;
  const std::int64_t cpu0 = thread_cpu_ns() + children_cpu_ns();
  const auto start = Clock::now();
  processing::ExtractionTiming timing;
  if (item.mode == "inprocess") {
    processing::extract_file(plan.root, item.path, limits);
  } else if (item.mode == "isolated") {
    timing = processing::extract_file_isolated(plan.worker, plan.root, item.path, limits).timing;
  } else if (item.mode == "pooled") {
    timing = pool.extract(plan.root, item.path, limits).timing;
  } else {
    processing::ChildRequest request;
    request.executable = item.argv.front();
    request.arguments.assign(item.argv.begin() + 1, item.argv.end());
    request.time_limit = std::chrono::seconds(60);
    request.max_output_bytes = 1ull << 30;
    const processing::ChildOutcome outcome = processing::run_child(request);
    if (!outcome.exited || outcome.exit_code != 0) {
      throw std::runtime_error(item.argv.front() + " ended with " +
                               (outcome.exited ? "status " + std::to_string(outcome.exit_code)
                                               : processing::signal_name(outcome.signal)) +
                               ": " + outcome.error_tail.substr(0, 300));
    }
  }
  const std::int64_t wall = us_since(start);
  const std::int64_t cpu = (thread_cpu_ns() + children_cpu_ns() - cpu0) / 1000;
  if (!counted) {
    item.warmup_wall_us.push_back(wall);
    return;
  }
  item.wall_us.push_back(wall);
  item.cpu_us.push_back(cpu);
  if (item.mode == "isolated" || item.mode == "pooled") {
    item.sandbox_start_us.push_back(timing.sandbox_start_us);
    item.extract_us.push_back(timing.extract_us);
    item.sandbox_finish_us.push_back(timing.sandbox_finish_us);
  }
}

void write_array(rapidjson::Writer<rapidjson::StringBuffer>& w, const char* key,
                 const std::vector<std::int64_t>& values) {
  w.Key(key);
  w.StartArray();
  for (const std::int64_t v : values) w.Int64(v);
  w.EndArray();
}

}  // namespace

int main() {
  Plan plan = read_plan();
  processing::ExtractorPool pool(plan.worker, 1'000'000);
  try {
    for (int round = 0; round < plan.warmup + plan.repeats; ++round) {
      for (Item& item : plan.items) run_once(plan, pool, item, round >= plan.warmup);
    }
  } catch (const std::exception& error) {
    std::cerr << "extract-bench: " << error.what() << "\n";
    return 1;
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("repeats");
  w.Int(plan.repeats);
  w.Key("warmup");
  w.Int(plan.warmup);
  w.Key("items");
  w.StartArray();
  for (const Item& item : plan.items) {
    w.StartObject();
    w.Key("label");
    w.String(item.label.c_str());
    w.Key("mode");
    w.String(item.mode.c_str());
    write_array(w, "wall_us", item.wall_us);
    write_array(w, "cpu_us", item.cpu_us);
    write_array(w, "warmup_wall_us", item.warmup_wall_us);
    if (item.mode == "isolated" || item.mode == "pooled") {
      write_array(w, "sandbox_start_us", item.sandbox_start_us);
      write_array(w, "extract_us", item.extract_us);
      write_array(w, "sandbox_finish_us", item.sandbox_finish_us);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  std::cout << buffer.GetString() << "\n";
  return 0;
}
