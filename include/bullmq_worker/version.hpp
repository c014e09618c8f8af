// bullmq-worker processor SDK: the versions a plugin is built against.
//
// BULLMQ_WORKER_PLUGIN_API_VERSION (plugin_abi.h) is what the worker checks
// when it loads a plugin; the SDK version below is the release of the
// headers, for a plugin's own diagnostics. Constants only.
#pragma once

#include "bullmq_worker/plugin_abi.h"

#define BULLMQ_WORKER_SDK_VERSION_MAJOR 0
#define BULLMQ_WORKER_SDK_VERSION_MINOR 1
#define BULLMQ_WORKER_SDK_VERSION_PATCH 0

namespace bullmq_worker {
inline constexpr int kPluginApiVersion = BULLMQ_WORKER_PLUGIN_API_VERSION;
}  // namespace bullmq_worker
