#include "app/files_plugin.hpp"

#include <dlfcn.h>

#include "app/module_loader.hpp"

namespace app {

std::optional<FilesPlugin> FilesPlugin::load(std::string* error) {
  std::string problem;
  OpenedModule module = open_module(kFilesPluginFile, kFilesMigrateSymbol, &problem);
  if (module.handle) {
    FilesPlugin plugin;
    plugin.path = module.path;
    plugin.migrate =
        reinterpret_cast<BullmqFilesMigrateFn>(::dlsym(module.handle, kFilesMigrateSymbol));
    plugin.extract =
        reinterpret_cast<BullmqFilesExtractFn>(::dlsym(module.handle, kFilesExtractSymbol));
    if (plugin.migrate && plugin.extract) return plugin;
    problem = std::string("cannot load the files plugin: ") + module.path + " lacks " +
              kFilesExtractSymbol;
  }
  if (error) *error = "the files plugin: " + problem;
  return std::nullopt;
}

}  // namespace app
