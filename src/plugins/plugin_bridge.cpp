#include "plugins/plugin_bridge.hpp"

#include <memory>
#include <stdexcept>
#include <utility>

#include "bullmq_worker/detail/abi_bridge.hpp"

namespace plugins {
namespace {

using bullmq_worker::JobContext;
using bullmq_worker::detail::ErrorText;
using bullmq_worker::detail::status_of_current_exception;
using bullmq_worker::detail::to_c;
using bullmq_worker::detail::to_view;

JobContext& ctx(void* context) {
  return *static_cast<JobContext*>(context);
}

// Runs one JobContext call for a plugin: its exceptions become a status.
template <typename F>
std::int32_t guarded(bwk_error* error, F&& f) noexcept {
  try {
    return f();
  } catch (...) {
    return status_of_current_exception(error);
  }
}

void each(bwk_entry_fn entry, void* state, std::int32_t kind,
          const std::map<std::string, std::string>& values) {
  for (const auto& [key, value] : values) entry(state, kind, to_c(key), to_c(value));
}

const bwk_context_ops kOps = {
    sizeof(bwk_context_ops),
    [](void* c, bwk_str json, bwk_error* e) {
      return guarded(e, [&] {
        ctx(c).update_progress(to_view(json));
        return std::int32_t{BWK_OK};
      });
    },
    [](void* c, bwk_str line, bwk_error* e) {
      return guarded(e, [&] {
        ctx(c).log(to_view(line));
        return std::int32_t{BWK_OK};
      });
    },
    [](void* c, bwk_str json, bwk_error* e) {
      return guarded(e, [&] {
        ctx(c).update_data(to_view(json));
        return std::int32_t{BWK_OK};
      });
    },
    [](void* c, std::int64_t delay_ms, bwk_error* e) {
      // Always throws DelayedError once moved: the status says BWK_DELAYED.
      return guarded(e, [&]() -> std::int32_t {
        ctx(c).move_to_delayed(std::chrono::milliseconds(delay_ms));
        return std::int32_t{BWK_DELAYED};  // not reached: it throws once moved
      });
    },
    [](void* c, bwk_error* e) {
      return guarded(e, [&]() -> std::int32_t {
        ctx(c).move_to_wait();
        return BWK_WAITING;  // not reached: it throws once moved
      });
    },
    [](void* c, bwk_error* e) {
      return guarded(e, [&] {
        ctx(c).move_to_waiting_children();
        return std::int32_t{BWK_OK};
      });
    },
    [](void* c, std::int64_t duration_ms, bwk_error* e) {
      return guarded(e, [&] {
        ctx(c).rate_limit(std::chrono::milliseconds(duration_ms));
        return std::int32_t{BWK_OK};
      });
    },
    [](void* c, const bwk_new_job* job, bwk_out* id, bwk_error* e) {
      return guarded(e, [&] {
        bullmq_worker::NewJob request;
        request.name = to_view(job->name);
        request.data = job->data.size ? std::string(to_view(job->data)) : "{}";
        request.opts = job->opts.size ? std::string(to_view(job->opts)) : "{}";
        request.queue = to_view(job->queue);
        request.as_child = job->as_child != 0;
        bullmq_worker::detail::write(id, ctx(c).add_job(request));
        return std::int32_t{BWK_OK};
      });
    },
    [](void* c, bwk_entry_fn entry, void* state, bwk_error* e) {
      return guarded(e, [&] {
        const auto deps = ctx(c).dependencies();
        each(entry, state, BWK_DEPENDENCY_PROCESSED, deps.processed);
        for (const auto& key : deps.unprocessed)
          entry(state, BWK_DEPENDENCY_UNPROCESSED, to_c(key), bwk_str{nullptr, 0});
        for (const auto& key : deps.failed)
          entry(state, BWK_DEPENDENCY_FAILED, to_c(key), bwk_str{nullptr, 0});
        each(entry, state, BWK_DEPENDENCY_IGNORED, deps.ignored);
        return std::int32_t{BWK_OK};
      });
    },
    [](void* c, std::int64_t counts[4], bwk_error* e) {
      return guarded(e, [&] {
        const auto n = ctx(c).dependency_counts();
        counts[0] = n.processed;
        counts[1] = n.unprocessed;
        counts[2] = n.failed;
        counts[3] = n.ignored;
        return std::int32_t{BWK_OK};
      });
    },
    [](void* c, bwk_entry_fn entry, void* state, bwk_error* e) {
      return guarded(e, [&] {
        each(entry, state, BWK_DEPENDENCY_PROCESSED, ctx(c).children_values());
        return std::int32_t{BWK_OK};
      });
    },
    [](void* c, bwk_entry_fn entry, void* state, bwk_error* e) {
      return guarded(e, [&] {
        each(entry, state, BWK_DEPENDENCY_IGNORED, ctx(c).ignored_children_failures());
        return std::int32_t{BWK_OK};
      });
    },
    [](void* c, bwk_error* e) {
      return guarded(e, [&] {
        ctx(c).remove_unprocessed_children();
        return std::int32_t{BWK_OK};
      });
    },
    [](void* c) -> std::int32_t { return ctx(c).cancelled() ? 1 : 0; },
    [](void* c, std::int64_t duration_ms) -> std::int32_t {
      try {
        return ctx(c).sleep_for(std::chrono::milliseconds(duration_ms)) ? 1 : 0;
      } catch (...) {
        return 0;
      }
    },
};

// Owns a plugin's state and hands it to the plugin's destroy at the end.
struct OwnedState {
  OwnedState(void* s, void (*d)(void*)) : state(s), destroy(d) {}
  OwnedState(const OwnedState&) = delete;
  OwnedState& operator=(const OwnedState&) = delete;
  void* state;
  void (*destroy)(void*);
  ~OwnedState() {
    if (destroy) destroy(state);
  }
};

class ProcessorOverAbi final : public bullmq_worker::Processor {
 public:
  ProcessorOverAbi(const bwk_processor& c, std::string plugin)
      : c_(c), owned_{c.state, c.destroy}, plugin_(std::move(plugin)) {}

  std::string process(const bullmq_worker::Job& job, JobContext& context) override {
    const bwk_job c_job = to_c(job);
    std::string result;
    bwk_out result_out = bullmq_worker::detail::out_to(result);
    ErrorText text;
    bwk_error error = text.sinks();
    const std::int32_t status = c_.process(c_.state, &c_job, &context, &kOps, &result_out, &error);
    if (status == BWK_OK) return result.empty() ? "null" : result;
    if (status == BWK_FAILED && text.message.empty())
      text.message.append("processor of plugin ")
          .append(plugin_)
          .append(" failed without a message");
    bullmq_worker::detail::throw_status(status, text);
    throw std::logic_error("unreachable");
  }

  bool runs_inline() const override { return (c_.flags & BWK_PROCESSOR_RUNS_INLINE) != 0; }

 private:
  bwk_processor c_;
  OwnedState owned_;
  std::string plugin_;
};

}  // namespace

const bwk_context_ops& context_ops() {
  return kOps;
}

std::shared_ptr<bullmq_worker::Processor> processor_over_abi(const bwk_processor& processor,
                                                             std::string plugin) {
  return std::make_shared<ProcessorOverAbi>(processor, std::move(plugin));
}

bullmq_worker::DependencyCheck dependency_check_over_abi(void* state, bwk_check_fn check,
                                                         void (*destroy)(void*)) {
  auto owned = std::make_shared<OwnedState>(state, destroy);
  return [owned, check]() -> std::string {
    std::string problem;
    bwk_out out = bullmq_worker::detail::out_to(problem);
    const std::int32_t status = check(owned->state, &out);
    if (status != BWK_OK && problem.empty()) problem = "the dependency check failed";
    return problem;
  };
}

bullmq_worker::BackoffStrategy backoff_over_abi(void* state, bwk_backoff_fn delay,
                                                void (*destroy)(void*)) {
  auto owned = std::make_shared<OwnedState>(state, destroy);
  return [owned, delay](int attempts_made, std::string_view type, std::string_view error_message,
                        const bullmq_worker::Job& job) -> std::int64_t {
    const bwk_job c_job = to_c(job);
    std::int32_t failed = 0;
    std::string problem;
    bwk_out out = bullmq_worker::detail::out_to(problem);
    const std::int64_t ms =
        delay(owned->state, attempts_made, to_c(type), to_c(error_message), &c_job, &failed, &out);
    if (failed) {
      std::string message = "backoff strategy '";
      message.append(type).append("' failed: ");
      message.append(problem.empty() ? std::string_view("no reason given") : problem);
      throw std::runtime_error(message);
    }
    return ms;
  };
}

}  // namespace plugins
