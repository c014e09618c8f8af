// bullmq-worker processor SDK: writing a plugin in C++.
//
//   #include <bullmq_worker/plugin.hpp>
//
//   class Resize : public bullmq_worker::Processor { … };
//
//   void setup(bullmq_worker::PluginSetup& setup) {
//     setup.add_processor("resize", std::make_shared<Resize>(setup.config().get_or("quality",
//     "80")));
//   }
//   BULLMQ_WORKER_PLUGIN("images", "1.0.0", setup)
//
// Build it as a shared library (CMake: find_package(bullmq_worker_sdk) and
// link bullmq_worker::sdk; or pkg-config bullmq-worker-sdk) and run
// `bullmq-worker run --plugin ./libimages.so`. The macro exports the one
// versioned entry point of plugin_abi.h; everything the plugin registers
// crosses the boundary as C types, wrapped back into the classes of
// processor.hpp on each side. Exceptions never cross it.
//
// Thread-safety: as processor.hpp and plugin_setup.hpp state for the classes
// the plugin implements and uses.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "bullmq_worker/detail/abi_bridge.hpp"
#include "bullmq_worker/plugin_abi.h"
#include "bullmq_worker/plugin_setup.hpp"
#include "bullmq_worker/processor.hpp"
#include "bullmq_worker/version.hpp"

namespace bullmq_worker::detail {

// The plugin side of registration: PluginSetup over the worker's bwk_host.
class SetupOverAbi final : public PluginSetup {
 public:
  explicit SetupOverAbi(const bwk_host* host) : host_(host) {
    std::map<std::string, std::string, std::less<>> values;
    for (std::size_t i = 0; i < host->config_count; ++i) {
      values[std::string(to_view(host->config_keys[i]))] =
          std::string(to_view(host->config_values[i]));
    }
    config_ = PluginConfig(std::move(values), std::string(to_view(host->config_json)));
  }

  const PluginConfig& config() const override { return config_; }

  PluginLogger logger() const override {
    const bwk_host* host = host_;  // valid until the worker exits
    return PluginLogger([host](LogLevel level, std::string_view event, std::string_view message) {
      host->log(host->state, static_cast<std::int32_t>(level), to_c(event), to_c(message));
    });
  }

  void add_processor(std::string job_name, std::shared_ptr<Processor> processor) override {
    auto holder = std::make_unique<std::shared_ptr<Processor>>(std::move(processor));
    bwk_processor c{holder.get(), (*holder)->runs_inline() ? BWK_PROCESSOR_RUNS_INLINE : 0u,
                    &process, &destroy<std::shared_ptr<Processor>>};
    register_with(
        [&](bwk_error* e) { return host_->add_processor(host_->state, to_c(job_name), &c, e); });
    holder.release();  // the worker owns it now
  }

  void add_dependency(std::string name, DependencyCheck check) override {
    auto holder = std::make_unique<DependencyCheck>(std::move(check));
    register_with([&](bwk_error* e) {
      return host_->add_dependency(host_->state, to_c(name), holder.get(), &run_check,
                                   &destroy<DependencyCheck>, e);
    });
    holder.release();
  }

  void add_backoff_strategy(std::string type, BackoffStrategy strategy) override {
    auto holder = std::make_unique<BackoffStrategy>(std::move(strategy));
    register_with([&](bwk_error* e) {
      return host_->add_backoff_strategy(host_->state, to_c(type), holder.get(), &run_backoff,
                                         &destroy<BackoffStrategy>, e);
    });
    holder.release();
  }

 private:
  template <typename F>
  static void register_with(F&& f) {
    ErrorText text;
    bwk_error error = text.sinks();
    if (f(&error) != BWK_OK) throw std::runtime_error(text.message);
  }

  template <typename T>
  static void destroy(void* state) {
    delete static_cast<T*>(state);
  }

  static std::int32_t process(void* state, const bwk_job* c_job, void* context,
                              const bwk_context_ops* ops, bwk_out* result, bwk_error* error) {
    try {
      const Job job = from_c(*c_job);
      ContextOverAbi ctx(context, ops);
      const std::string value =
          (*static_cast<std::shared_ptr<Processor>*>(state))->process(job, ctx);
      write(result, value);
      return BWK_OK;
    } catch (...) {
      return status_of_current_exception(error);
    }
  }

  static std::int32_t run_check(void* state, bwk_out* problem) {
    try {
      write(problem, (*static_cast<DependencyCheck*>(state))());
      return BWK_OK;
    } catch (const std::exception& e) {
      write(problem, e.what());
      return BWK_FAILED;
    } catch (...) {
      write(problem, "dependency check threw an unknown exception");
      return BWK_FAILED;
    }
  }

  static std::int64_t run_backoff(void* state, std::int32_t attempts_made, bwk_str type,
                                  bwk_str error_message, const bwk_job* c_job, std::int32_t* failed,
                                  bwk_out* error) {
    try {
      return (*static_cast<BackoffStrategy*>(state))(attempts_made, to_view(type),
                                                     to_view(error_message), from_c(*c_job));
    } catch (const std::exception& e) {
      *failed = 1;
      write(error, e.what());
    } catch (...) {
      *failed = 1;
      write(error, "backoff strategy threw an unknown exception");
    }
    return -1;
  }

  const bwk_host* host_;
  PluginConfig config_;
};

template <typename SetupFunction>
std::int32_t run_plugin_setup(const bwk_host* host, bwk_error* error, SetupFunction&& setup) {
  try {
    if (host->api_version != BULLMQ_WORKER_PLUGIN_API_VERSION) {
      throw std::runtime_error("the worker speaks plugin API version " +
                               std::to_string(host->api_version) + ", the plugin " +
                               std::to_string(BULLMQ_WORKER_PLUGIN_API_VERSION));
    }
    SetupOverAbi plugin_setup(host);
    setup(static_cast<PluginSetup&>(plugin_setup));
    return BWK_OK;
  } catch (...) {
    return status_of_current_exception(error);
  }
}

}  // namespace bullmq_worker::detail

// Defines the plugin's entry point. NAME: the plugin's name ([a-z0-9_-]+, used
// by --plugin-config and the logs); VERSION: its own version text; SETUP: a
// function (or lambda) taking bullmq_worker::PluginSetup&. Use once per
// shared library, at namespace scope.
#define BULLMQ_WORKER_PLUGIN(NAME, VERSION, SETUP)                                                 \
  extern "C" __attribute__((visibility("default"))) const bwk_plugin* bullmq_worker_plugin(void) { \
    static const bwk_plugin plugin = {BULLMQ_WORKER_PLUGIN_API_VERSION, NAME, VERSION,             \
                                      [](const bwk_host* host, bwk_error* error) -> std::int32_t { \
                                        return ::bullmq_worker::detail::run_plugin_setup(          \
                                            host, error, SETUP);                                   \
                                      }};                                                          \
    return &plugin;                                                                                \
  }
