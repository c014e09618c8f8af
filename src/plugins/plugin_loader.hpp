// Loads processor plugins (`run --plugin PATH`): opens the shared object,
// checks the plugin API version it was built for, and calls its setup with a
// bwk_host that registers into the worker's ProcessorRegistry (see
// include/bullmq_worker/plugin_abi.h). Plugins stay loaded, and what they
// registered alive, until the process exits.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bullmq/processor.hpp"

namespace plugins {

// A plugin's configuration as given on the command line: key/values, and
// the JSON text when it was given as JSON (whose top-level scalars are then
// among the values too).
struct PluginSettings {
  std::map<std::string, std::string, std::less<>> values;
  std::string json;
};

// `--plugin-config` entries by plugin name. Parses "NAME:KEY=VALUE" and
// "NAME:{json object}"; throws std::invalid_argument naming the problem.
void add_plugin_setting(std::map<std::string, PluginSettings>& settings, const std::string& entry);

struct LoadedPlugin {
  std::string path;
  std::string name;
  std::string version;
  std::vector<std::string> job_names;  // the processors it registered
};

// Why a plugin could not be loaded. exit_code: 2 for a usage problem (not a
// plugin, built for another API version, bad configuration), 1 when its
// setup failed at run time (a database that refused the connection, …).
class PluginError : public std::runtime_error {
 public:
  PluginError(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// Opens `path` and returns the plugin's name without running its setup.
class PluginLibrary {
 public:
  static PluginLibrary open(const std::string& path);  // throws PluginError
  const std::string& name() const { return name_; }
  // Runs the plugin's setup: its processors, dependency checks and backoff
  // strategies go into `registry`. Throws PluginError.
  LoadedPlugin set_up(const PluginSettings& settings, bullmq::ProcessorRegistry& registry) const;

 private:
  std::string path_;
  std::string name_;
  const void* descriptor_ = nullptr;  // const bwk_plugin*
};

}  // namespace plugins
