// bullmq-worker processor SDK, internal: the conversions between the C
// boundary (plugin_abi.h) and the C++ classes of the SDK, used on both sides
// of it — by a C++ plugin (through plugin.hpp) and by the worker. Not a
// public API: names here may change within an API version.
//
// Thread-safety: stateless functions; ContextOverAbi is used by the one
// thread that runs the job, as JobContext requires.
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bullmq_worker/errors.hpp"
#include "bullmq_worker/job.hpp"
#include "bullmq_worker/job_context.hpp"
#include "bullmq_worker/plugin_abi.h"

namespace bullmq_worker::detail {

inline bwk_str to_c(std::string_view text) {
  return bwk_str{text.data(), text.size()};
}
inline std::string_view to_view(bwk_str text) {
  return text.size ? std::string_view(text.data, text.size) : std::string_view();
}

// A bwk_out that appends to a std::string.
inline bwk_out out_to(std::string& target) {
  return bwk_out{&target, [](void* state, const char* data, std::size_t size) {
                   static_cast<std::string*>(state)->append(data, size);
                 }};
}
inline void write(bwk_out* out, std::string_view text) {
  if (out && out->append && !text.empty()) out->append(out->state, text.data(), text.size());
}

// An error's two texts, and the bwk_error that fills them.
struct ErrorText {
  std::string message;
  std::string dependency;
  bwk_error sinks() { return bwk_error{out_to(message), out_to(dependency)}; }
};

// The status of the exception being handled, with its texts in `error`.
// Call from a catch block only.
inline std::int32_t status_of_current_exception(bwk_error* error) noexcept {
  auto describe = [error](std::string_view message) noexcept {
    try {
      if (error) write(&error->message, message);
    } catch (...) {
    }
  };
  try {
    throw;
  } catch (const UnrecoverableError& e) {
    describe(e.what());
    return BWK_UNRECOVERABLE;
  } catch (const DependencyUnavailable& e) {
    describe(e.what());
    try {
      if (error) write(&error->dependency, e.dependency());
    } catch (...) {
    }
    return BWK_DEPENDENCY_UNAVAILABLE;
  } catch (const RateLimitError& e) {
    describe(e.what());
    return BWK_RATE_LIMITED;
  } catch (const DelayedError& e) {
    describe(e.what());
    return BWK_DELAYED;
  } catch (const WaitingChildrenError& e) {
    describe(e.what());
    return BWK_WAITING_CHILDREN;
  } catch (const WaitingError& e) {
    describe(e.what());
    return BWK_WAITING;
  } catch (const std::exception& e) {
    describe(e.what());
    return BWK_FAILED;
  } catch (...) {
    describe("unknown exception (not derived from std::exception)");
    return BWK_FAILED;
  }
}

// Throws the SDK exception a status stands for (nothing for BWK_OK).
inline void throw_status(std::int32_t status, const ErrorText& error) {
  switch (status) {
    case BWK_OK:
      return;
    case BWK_UNRECOVERABLE:
      throw UnrecoverableError(error.message);
    case BWK_DEPENDENCY_UNAVAILABLE:
      throw DependencyUnavailable(error.dependency, error.message);
    case BWK_RATE_LIMITED:
      throw RateLimitError();
    case BWK_DELAYED:
      throw DelayedError();
    case BWK_WAITING_CHILDREN:
      throw WaitingChildrenError();
    case BWK_WAITING:
      throw WaitingError();
    default:
      throw std::runtime_error(error.message.empty()
                                   ? "plugin call failed (status " + std::to_string(status) + ")"
                                   : error.message);
  }
}

inline bwk_job to_c(const Job& job) {
  return bwk_job{to_c(job.queue),     to_c(job.id),         to_c(job.name),   to_c(job.data),
                 to_c(job.opts_json), to_c(job.parent_key), job.timestamp_ms, job.processed_on_ms,
                 job.attempts_made,   job.attempts_started};
}
inline Job from_c(const bwk_job& c) {
  Job job;
  job.queue = to_view(c.queue);
  job.id = to_view(c.id);
  job.name = to_view(c.name);
  job.data = to_view(c.data);
  job.opts_json = to_view(c.opts_json);
  job.parent_key = to_view(c.parent_key);
  job.timestamp_ms = c.timestamp_ms;
  job.processed_on_ms = c.processed_on_ms;
  job.attempts_made = c.attempts_made;
  job.attempts_started = c.attempts_started;
  return job;
}

// A JobContext that forwards to the worker over the C boundary (plugin side).
class ContextOverAbi final : public JobContext {
 public:
  ContextOverAbi(void* context, const bwk_context_ops* ops) : context_(context), ops_(ops) {}

  void update_progress(std::string_view json) override {
    call([&](bwk_error* e) { return ops_->update_progress(context_, to_c(json), e); });
  }
  void log(std::string_view line) override {
    call([&](bwk_error* e) { return ops_->log(context_, to_c(line), e); });
  }
  void update_data(std::string_view json) override {
    call([&](bwk_error* e) { return ops_->update_data(context_, to_c(json), e); });
  }
  [[noreturn]] void move_to_delayed(std::chrono::milliseconds delay) override {
    call([&](bwk_error* e) { return ops_->move_to_delayed(context_, delay.count(), e); });
    throw DelayedError();
  }
  [[noreturn]] void move_to_wait() override {
    call([&](bwk_error* e) { return ops_->move_to_wait(context_, e); });
    throw WaitingError();
  }
  void move_to_waiting_children() override {
    call([&](bwk_error* e) { return ops_->move_to_waiting_children(context_, e); });
  }
  void rate_limit(std::chrono::milliseconds duration) override {
    call([&](bwk_error* e) { return ops_->rate_limit(context_, duration.count(), e); });
  }
  std::string add_job(const NewJob& job) override {
    bwk_new_job c{to_c(job.name), to_c(job.data), to_c(job.opts), to_c(job.queue),
                  job.as_child ? 1 : 0};
    std::string id;
    bwk_out id_out = out_to(id);
    call([&](bwk_error* e) { return ops_->add_job(context_, &c, &id_out, e); });
    return id;
  }
  Dependencies dependencies() override {
    Dependencies result;
    call([&](bwk_error* e) { return ops_->dependencies(context_, &collect, &result, e); });
    return result;
  }
  DependencyCounts dependency_counts() override {
    std::int64_t counts[4] = {0, 0, 0, 0};
    call([&](bwk_error* e) { return ops_->dependency_counts(context_, counts, e); });
    return DependencyCounts{counts[0], counts[1], counts[2], counts[3]};
  }
  std::map<std::string, std::string> children_values() override {
    Dependencies result;
    call([&](bwk_error* e) { return ops_->children_values(context_, &collect, &result, e); });
    return std::move(result.processed);
  }
  std::map<std::string, std::string> ignored_children_failures() override {
    Dependencies result;
    call([&](bwk_error* e) {
      return ops_->ignored_children_failures(context_, &collect, &result, e);
    });
    return std::move(result.ignored);
  }
  void remove_unprocessed_children() override {
    call([&](bwk_error* e) { return ops_->remove_unprocessed_children(context_, e); });
  }
  bool cancelled() const override { return ops_->cancelled(context_) != 0; }
  bool sleep_for(std::chrono::milliseconds duration) override {
    return ops_->sleep_for(context_, duration.count()) != 0;
  }

  // Fills Dependencies from bwk_entry_fn calls.
  static void collect(void* state, std::int32_t kind, bwk_str key, bwk_str value) {
    auto& deps = *static_cast<Dependencies*>(state);
    std::string k(to_view(key));
    switch (kind) {
      case BWK_DEPENDENCY_PROCESSED:
        deps.processed[std::move(k)] = std::string(to_view(value));
        break;
      case BWK_DEPENDENCY_UNPROCESSED:
        deps.unprocessed.push_back(std::move(k));
        break;
      case BWK_DEPENDENCY_FAILED:
        deps.failed.push_back(std::move(k));
        break;
      case BWK_DEPENDENCY_IGNORED:
        deps.ignored[std::move(k)] = std::string(to_view(value));
        break;
      default:
        break;
    }
  }

 private:
  template <typename F>
  void call(F&& f) {
    ErrorText text;
    bwk_error error = text.sinks();
    throw_status(f(&error), text);
  }

  void* context_;
  const bwk_context_ops* ops_;
};

}  // namespace bullmq_worker::detail
