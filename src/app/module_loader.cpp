#include "app/module_loader.hpp"

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

OpenedModule open_module(const char* file, const char* symbol, std::string* error) {
  std::vector<std::filesystem::path> candidates;
  if (const char* dir = std::getenv("BULLMQ_WORKER_PLUGIN_DIR"); dir && *dir) {
    candidates.emplace_back(std::filesystem::path(dir) / file);
  }
  const auto exe_dir = executable_dir();
  candidates.push_back(exe_dir / file);
  candidates.push_back(exe_dir.parent_path() / "lib" / "bullmq-worker" / file);

  std::string tried;
  for (const auto& path : candidates) {
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      tried += "\n  " + path.string() + ": " + ::dlerror();
      continue;
    }
    if (::dlsym(handle, symbol)) return OpenedModule{handle, path.string()};
    tried += "\n  " + path.string() + ": missing entry points";
    ::dlclose(handle);
  }
  if (error) *error = std::string("cannot load ") + file + ":" + tried;
  return {};
}

}  // namespace app
