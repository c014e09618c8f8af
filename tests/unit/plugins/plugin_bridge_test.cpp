// The two halves of the plugin boundary, joined in one process: a JobContext
// reached through the worker's ops table and the SDK's ContextOverAbi, and a
// Processor registered through the SDK's setup, wrapped back by the worker.
// Every call must arrive with its arguments, and every SDK exception must come
// out on the other side as the same exception with the same texts.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "bullmq_worker/plugin.hpp"
#include "plugins/plugin_bridge.hpp"
#include "plugins/plugin_loader.hpp"

namespace {

using namespace bullmq_worker;

// Records calls; `fail_with` makes the next call throw it.
class RecordingContext : public JobContext {
 public:
  std::vector<std::string> calls;
  std::function<void()> fail_with;

  void maybe_fail() {
    if (auto f = std::exchange(fail_with, nullptr)) f();
  }
  void update_progress(std::string_view json) override {
    maybe_fail();
    calls.push_back("progress " + std::string(json));
  }
  void log(std::string_view line) override {
    maybe_fail();
    calls.push_back("log " + std::string(line));
  }
  void update_data(std::string_view json) override {
    maybe_fail();
    calls.push_back("data " + std::string(json));
  }
  [[noreturn]] void move_to_delayed(std::chrono::milliseconds delay) override {
    calls.push_back("delayed " + std::to_string(delay.count()));
    throw DelayedError();
  }
  [[noreturn]] void move_to_wait() override {
    calls.push_back("wait");
    throw WaitingError();
  }
  void move_to_waiting_children() override {
    calls.push_back("waiting-children");
    maybe_fail();
  }
  void rate_limit(std::chrono::milliseconds d) override {
    calls.push_back("rate-limit " + std::to_string(d.count()));
  }
  std::string add_job(const NewJob& job) override {
    maybe_fail();
    calls.push_back("add " + job.name + " " + job.data + " " + job.opts + " [" + job.queue + "] " +
                    (job.as_child ? "child" : "plain"));
    return "new-id";
  }
  Dependencies dependencies() override {
    return {{{"bull:q:1", "{\"v\":1}"}},
            {"bull:q:2", "bull:q:3"},
            {"bull:q:4"},
            {{"bull:q:5", "boom"}}};
  }
  DependencyCounts dependency_counts() override { return {1, 2, 3, 4}; }
  std::map<std::string, std::string> children_values() override { return {{"bull:q:1", "7"}}; }
  std::map<std::string, std::string> ignored_children_failures() override {
    return {{"bull:q:5", "boom"}};
  }
  void remove_unprocessed_children() override { calls.push_back("remove-unprocessed"); }
  bool cancelled() const override { return true; }
  bool sleep_for(std::chrono::milliseconds) override { return false; }
};

TEST_CASE("a JobContext call crosses the C boundary with its arguments and results") {
  RecordingContext host;
  detail::ContextOverAbi plugin(&host, &plugins::context_ops());
  plugin.update_progress("[1,2]");
  plugin.log("a line");
  plugin.update_data("{\"a\":1}");
  plugin.rate_limit(std::chrono::milliseconds(250));
  plugin.remove_unprocessed_children();
  CHECK(plugin.add_job({"child", "{\"x\":1}", "{\"delay\":5}", "other", true}) == "new-id");
  CHECK_NOTHROW(plugin.move_to_waiting_children());
  CHECK(host.calls == std::vector<std::string>{"progress [1,2]", "log a line", "data {\"a\":1}",
                                               "rate-limit 250", "remove-unprocessed",
                                               "add child {\"x\":1} {\"delay\":5} [other] child",
                                               "waiting-children"});
  const Dependencies deps = plugin.dependencies();
  CHECK(deps.processed == std::map<std::string, std::string>{{"bull:q:1", "{\"v\":1}"}});
  CHECK(deps.unprocessed == std::vector<std::string>{"bull:q:2", "bull:q:3"});
  CHECK(deps.failed == std::vector<std::string>{"bull:q:4"});
  CHECK(deps.ignored == std::map<std::string, std::string>{{"bull:q:5", "boom"}});
  const DependencyCounts counts = plugin.dependency_counts();
  CHECK(counts.processed == 1);
  CHECK(counts.unprocessed == 2);
  CHECK(counts.failed == 3);
  CHECK(counts.ignored == 4);
  CHECK(plugin.children_values() == std::map<std::string, std::string>{{"bull:q:1", "7"}});
  CHECK(plugin.ignored_children_failures() ==
        std::map<std::string, std::string>{{"bull:q:5", "boom"}});
  CHECK(plugin.cancelled());
  CHECK_FALSE(plugin.sleep_for(std::chrono::milliseconds(1)));
}

TEST_CASE("the worker's exceptions reach the plugin as the same SDK exceptions") {
  RecordingContext host;
  detail::ContextOverAbi plugin(&host, &plugins::context_ops());
  CHECK_THROWS_AS(plugin.move_to_delayed(std::chrono::milliseconds(10)), DelayedError);
  CHECK_THROWS_AS(plugin.move_to_wait(), WaitingError);
  host.fail_with = [] { throw WaitingChildrenError(); };
  CHECK_THROWS_AS(plugin.move_to_waiting_children(), WaitingChildrenError);
  host.fail_with = [] { throw DependencyUnavailable("redis", "Redis is down"); };
  try {
    plugin.log("x");
    FAIL("no exception");
  } catch (const DependencyUnavailable& e) {
    CHECK(e.dependency() == "redis");
    CHECK(std::string(e.what()) == "Redis is down");
  }
  host.fail_with = [] { throw UnrecoverableError("called from the I/O thread"); };
  CHECK_THROWS_WITH_AS(plugin.update_progress("1"), "called from the I/O thread",
                       UnrecoverableError);
  host.fail_with = [] { throw std::runtime_error("lock lost"); };
  CHECK_THROWS_WITH_AS(plugin.add_job({}), "lock lost", std::runtime_error);
  host.fail_with = [] { throw 42; };
  CHECK_THROWS_WITH_AS(plugin.update_data("{}"),
                       "unknown exception (not derived from std::exception)", std::runtime_error);
}

// A processor that ends the way it is told to.
class Scripted : public Processor {
 public:
  std::string process(const Job& job, JobContext& context) override {
    if (job.name == "ok") {
      context.log("seen " + job.id + " attempt " + std::to_string(job.attempt()));
      return "{\"queue\":\"" + job.queue + "\"}";
    }
    if (job.name == "empty") return "";
    if (job.name == "unrecoverable") throw UnrecoverableError("bad data");
    if (job.name == "dependency") throw DependencyUnavailable("postgresql", "no database");
    if (job.name == "rate-limited") throw RateLimitError();
    if (job.name == "delayed") context.move_to_delayed(std::chrono::milliseconds(5));
    throw std::runtime_error("plain failure");
  }
  bool runs_inline() const override { return true; }
};

// Collects what a plugin's setup registers, through the worker's loader path:
// a bwk_host as the loader builds it is not public, so this drives the SDK's
// setup against a small host of its own.
struct TestHost {
  std::map<std::string, std::shared_ptr<Processor>> processors;
  std::map<std::string, BackoffStrategy> strategies;
  std::map<std::string, DependencyCheck> checks;
  bwk_host host{};
  TestHost() {
    host.size = sizeof host;
    host.api_version = BULLMQ_WORKER_PLUGIN_API_VERSION;
    host.state = this;
    host.add_processor = [](void* h, bwk_str name, const bwk_processor* p, bwk_error*) {
      static_cast<TestHost*>(h)->processors[std::string(detail::to_view(name))] =
          plugins::processor_over_abi(*p, "test");
      return std::int32_t{BWK_OK};
    };
    host.add_backoff_strategy = [](void* h, bwk_str type, void* state, bwk_backoff_fn f,
                                   void (*destroy)(void*), bwk_error*) {
      static_cast<TestHost*>(h)->strategies[std::string(detail::to_view(type))] =
          plugins::backoff_over_abi(state, f, destroy);
      return std::int32_t{BWK_OK};
    };
    host.add_dependency = [](void* h, bwk_str name, void* state, bwk_check_fn f,
                             void (*destroy)(void*), bwk_error*) {
      static_cast<TestHost*>(h)->checks[std::string(detail::to_view(name))] =
          plugins::dependency_check_over_abi(state, f, destroy);
      return std::int32_t{BWK_OK};
    };
    host.log = [](void*, std::int32_t, bwk_str, bwk_str) {};
  }
};

TEST_CASE("a processor registered by a plugin runs through the worker's wrapper") {
  TestHost host;
  bwk_error error{};
  auto status = detail::run_plugin_setup(&host.host, &error, [](PluginSetup& setup) {
    setup.add_processor("p", std::make_shared<Scripted>());
    setup.add_backoff_strategy("linear", [](int attempts, std::string_view type,
                                            std::string_view message, const Job& job) {
      if (message == "throw") throw std::runtime_error("no delay for " + job.id);
      return static_cast<std::int64_t>(attempts * 100 + type.size());
    });
    setup.add_dependency("db", [] { return std::string("down"); });
  });
  REQUIRE(status == BWK_OK);
  Processor& p = *host.processors.at("p");
  CHECK(p.runs_inline());
  RecordingContext ctx;
  Job job;
  job.queue = "q";
  job.id = "7";
  job.attempts_made = 2;
  job.name = "ok";
  CHECK(p.process(job, ctx) == "{\"queue\":\"q\"}");
  CHECK(ctx.calls == std::vector<std::string>{"log seen 7 attempt 3"});
  job.name = "empty";
  CHECK(p.process(job, ctx) == "null");
  job.name = "unrecoverable";
  CHECK_THROWS_WITH_AS(p.process(job, ctx), "bad data", UnrecoverableError);
  job.name = "dependency";
  try {
    p.process(job, ctx);
    FAIL("no exception");
  } catch (const DependencyUnavailable& e) {
    CHECK(e.dependency() == "postgresql");
    CHECK(std::string(e.what()) == "no database");
  }
  job.name = "rate-limited";
  CHECK_THROWS_AS(p.process(job, ctx), RateLimitError);
  job.name = "delayed";
  CHECK_THROWS_AS(p.process(job, ctx), DelayedError);
  job.name = "other";
  CHECK_THROWS_WITH_AS(p.process(job, ctx), "plain failure", std::runtime_error);

  CHECK(host.strategies.at("linear")(3, "linear", "x", job) == 306);
  CHECK_THROWS_WITH_AS(host.strategies.at("linear")(1, "linear", "throw", job),
                       "backoff strategy 'linear' failed: no delay for 7", std::runtime_error);
  CHECK(host.checks.at("db")() == "down");
}

TEST_CASE("a setup that throws, or a worker of another API version, reports an error status") {
  TestHost host;
  detail::ErrorText text;
  bwk_error error = text.sinks();
  CHECK(detail::run_plugin_setup(&host.host, &error, [](PluginSetup&) {
          throw std::invalid_argument("missing setting");
        }) == BWK_FAILED);
  CHECK(text.message == "missing setting");
  host.host.api_version = BULLMQ_WORKER_PLUGIN_API_VERSION + 1;
  detail::ErrorText text2;
  bwk_error error2 = text2.sinks();
  CHECK(detail::run_plugin_setup(&host.host, &error2, [](PluginSetup&) {}) == BWK_FAILED);
  CHECK(text2.message.find("plugin API version") != std::string::npos);
}

TEST_CASE("--plugin-config entries: key/values and JSON by plugin name") {
  std::map<std::string, plugins::PluginSettings> settings;
  plugins::add_plugin_setting(settings, "images:quality=80");
  plugins::add_plugin_setting(settings, "images:url=redis://x:6379/0?a=b");
  plugins::add_plugin_setting(settings,
                              R"(geo:{"radius": 5, "name": "x", "on": true, "deep": {"a": 1}})");
  CHECK(settings["images"].values.at("quality") == "80");
  CHECK(settings["images"].values.at("url") == "redis://x:6379/0?a=b");
  CHECK(settings["images"].json.empty());
  CHECK(settings["geo"].values.at("radius") == "5");
  CHECK(settings["geo"].values.at("name") == "x");
  CHECK(settings["geo"].values.at("on") == "true");
  CHECK(settings["geo"].values.count("deep") == 0);
  CHECK(settings["geo"].json.find("deep") != std::string::npos);
  CHECK_THROWS_AS(plugins::add_plugin_setting(settings, "no-colon"), std::invalid_argument);
  CHECK_THROWS_AS(plugins::add_plugin_setting(settings, "Bad:x=1"), std::invalid_argument);
  CHECK_THROWS_AS(plugins::add_plugin_setting(settings, "geo:novalue"), std::invalid_argument);
  CHECK_THROWS_AS(plugins::add_plugin_setting(settings, "geo:{broken"), std::invalid_argument);
  CHECK_THROWS_AS(plugins::add_plugin_setting(settings, R"(geo:{"again": 1})"),
                  std::invalid_argument);
}

}  // namespace
