#include "app/files_plugin.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace app {
namespace {

std::filesystem::path executable_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::filesystem::path(std::string(buf, static_cast<std::size_t>(n))).parent_path();
}

}  // namespace

std::optional<FilesPlugin> FilesPlugin::load(std::string* error) {
  std::vector<std::filesystem::path> candidates;
  if (const char* dir = std::getenv("BULLMQ_WORKER_PLUGIN_DIR"); dir && *dir) {
    candidates.emplace_back(std::filesystem::path(dir) / kFilesPluginFile);
  }
  const auto exe_dir = executable_dir();
  candidates.push_back(exe_dir / kFilesPluginFile);
  candidates.push_back(exe_dir.parent_path() / "lib" / "bullmq-worker" / kFilesPluginFile);

  std::string tried;
  for (const auto& path : candidates) {
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      tried += "\n  " + path.string() + ": " + ::dlerror();
      continue;
    }
    FilesPlugin plugin;
    plugin.path = path.string();
    plugin.migrate = reinterpret_cast<BullmqFilesMigrateFn>(::dlsym(handle, kFilesMigrateSymbol));
    plugin.extract = reinterpret_cast<BullmqFilesExtractFn>(::dlsym(handle, kFilesExtractSymbol));
    if (plugin.migrate && plugin.extract) return plugin;
    tried += "\n  " + path.string() + ": missing entry points";
    ::dlclose(handle);
  }
  if (error)
    *error = "cannot load the files plugin (" + std::string(kFilesPluginFile) + "):" + tried;
  return std::nullopt;
}

}  // namespace app
