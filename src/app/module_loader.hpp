// Finds and opens the binary's own modules (the files plugin, the tracing
// module): in $BULLMQ_WORKER_PLUGIN_DIR, next to the executable, or in
// ../lib/bullmq-worker/. Modules are never closed.
#pragma once

#include <string>

namespace app {

struct OpenedModule {
  void* handle = nullptr;  // from dlopen; null when not found
  std::string path;
};

// Opens the first of the candidate places that holds `file` and exports
// `symbol`; otherwise returns no handle and sets `error` to every place
// tried and why.
OpenedModule open_module(const char* file, const char* symbol, std::string* error);

}  // namespace app
