// Finds and loads the `files` plugin (see files_plugin_api.hpp): next to the
// executable, in ../lib/bullmq-worker/, or in $BULLMQ_WORKER_PLUGIN_DIR.
// The plugin is never unloaded.
#pragma once

#include <optional>
#include <string>

#include "app/files_plugin_api.hpp"

namespace app {

struct FilesPlugin {
  BullmqFilesRegisterFn register_processors = nullptr;
  BullmqFilesMigrateFn migrate = nullptr;
  BullmqFilesExtractFn extract = nullptr;

  // nullopt and a message naming every place looked at when it cannot load.
  static std::optional<FilesPlugin> load(std::string* error);
};

}  // namespace app
