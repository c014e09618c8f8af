// The worker's side of the C boundary to plugins (include/bullmq_worker/
// plugin_abi.h): wraps what a plugin registered (C function tables) into the
// SDK's C++ types the worker calls, and offers the worker's JobContext to
// plugins as a bwk_context_ops table. The plugin's side of the same
// conversions is include/bullmq_worker/detail/abi_bridge.hpp.
//
// Thread-safety: the wrappers are as thread-safe as the plugin's functions
// they call; the ops table is immutable.
#pragma once

#include <memory>
#include <string>

#include "bullmq_worker/plugin_abi.h"
#include "bullmq_worker/processor.hpp"

namespace plugins {

// The ops table through which plugins reach a JobContext; the `context`
// argument of every function is a bullmq_worker::JobContext*.
const bwk_context_ops& context_ops();

// A Processor that runs `processor` (taking ownership of its state: `destroy`
// runs when the last copy goes away). `plugin` names it in errors.
std::shared_ptr<bullmq_worker::Processor> processor_over_abi(const bwk_processor& processor,
                                                             std::string plugin);

bullmq_worker::DependencyCheck dependency_check_over_abi(void* state, bwk_check_fn check,
                                                         void (*destroy)(void*));

// A strategy that throws std::runtime_error when the plugin's reports a failure.
bullmq_worker::BackoffStrategy backoff_over_abi(void* state, bwk_backoff_fn delay,
                                                void (*destroy)(void*));

}  // namespace plugins
