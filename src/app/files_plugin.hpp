// Finds the `files` plugin (see files_plugin_api.hpp): in
// $BULLMQ_WORKER_PLUGIN_DIR, next to the executable, or in
// ../lib/bullmq-worker/. `run` loads its processors through the plugin
// loader like any plugin's; `migrate` and `extract-file` call its two extra
// entry points. The plugin is never unloaded.
#pragma once

#include <optional>
#include <string>

#include "app/files_plugin_api.hpp"

namespace app {

struct FilesPlugin {
  std::string path;
  BullmqFilesMigrateFn migrate = nullptr;
  BullmqFilesExtractFn extract = nullptr;

  // nullopt and a message naming every place looked at when it cannot load.
  static std::optional<FilesPlugin> load(std::string* error);
};

}  // namespace app
