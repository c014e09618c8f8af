#include "plugins/plugin_loader.hpp"

#include <dlfcn.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "bullmq/logger.hpp"
#include "bullmq_worker/detail/abi_bridge.hpp"
#include "bullmq_worker/plugin_abi.h"
#include "plugins/plugin_bridge.hpp"

namespace plugins {
namespace {

using bullmq_worker::detail::to_c;
using bullmq_worker::detail::to_view;
using bullmq_worker::detail::write;

bool valid_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// What the worker keeps for one loaded plugin: the bwk_host it was given and
// the strings that host points at. Lives until the process exits.
struct HostState {
  std::string plugin;
  bullmq::ProcessorRegistry* registry = nullptr;
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<bwk_str> c_keys;
  std::vector<bwk_str> c_values;
  std::string json;
  std::vector<std::string> job_names;
  bwk_host host{};
};

std::vector<std::unique_ptr<HostState>>& host_states() {
  static std::vector<std::unique_ptr<HostState>> states;
  return states;
}

HostState& state_of(void* host) {
  return *static_cast<HostState*>(host);
}

std::int32_t refuse(bwk_error* error, const std::string& message) {
  if (error) write(&error->message, message);
  return BWK_FAILED;
}

std::int32_t add_processor(void* host, bwk_str job_name, const bwk_processor* processor,
                           bwk_error* error) {
  HostState& state = state_of(host);
  const std::string name(to_view(job_name));
  // Ownership of the processor's state passes to the worker in every case.
  auto wrapped = processor_over_abi(*processor, state.plugin);
  if (name.empty()) return refuse(error, "a processor needs a job name");
  if (state.registry->find(name)) {
    return refuse(error, "job name '" + name +
                             "' already has a processor (from a processor set, another plugin "
                             "or a --command)");
  }
  state.registry->add(name, std::move(wrapped));
  state.job_names.push_back(name);
  return BWK_OK;
}

std::int32_t add_dependency(void* host, bwk_str name, void* check_state, bwk_check_fn check,
                            void (*destroy)(void*), bwk_error* error) {
  auto wrapped = dependency_check_over_abi(check_state, check, destroy);
  if (to_view(name).empty()) return refuse(error, "a dependency needs a name");
  state_of(host).registry->add_dependency(std::string(to_view(name)), std::move(wrapped));
  return BWK_OK;
}

std::int32_t add_backoff_strategy(void* host, bwk_str type, void* strategy_state,
                                  bwk_backoff_fn delay, void (*destroy)(void*), bwk_error* error) {
  auto wrapped = backoff_over_abi(strategy_state, delay, destroy);
  const std::string name(to_view(type));
  if (name.empty()) return refuse(error, "a backoff strategy needs a type name");
  if (name == "fixed" || name == "exponential") {
    return refuse(error, "backoff type '" + name + "' is built in and cannot be replaced");
  }
  auto& registry = *state_of(host).registry;
  if (registry.find_backoff_strategy(name)) {
    return refuse(error, "backoff type '" + name + "' is already registered");
  }
  registry.add_backoff_strategy(name, std::move(wrapped));
  return BWK_OK;
}

void log_line(void* host, std::int32_t level, bwk_str event, bwk_str message) {
  const auto lvl = static_cast<bullmq::LogLevel>(std::clamp<std::int32_t>(level, 0, 3));
  auto& log = bullmq::logger();
  if (!log.enabled(lvl)) return;
  log.log(lvl, to_view(event), to_view(message), {{"plugin", state_of(host).plugin}});
}

std::string scalar_text(const rapidjson::Value& value) {
  if (value.IsString()) return {value.GetString(), value.GetStringLength()};
  if (value.IsBool()) return value.GetBool() ? "true" : "false";
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return buffer.GetString();
}

}  // namespace

void add_plugin_setting(std::map<std::string, PluginSettings>& settings, const std::string& entry) {
  const auto colon = entry.find(':');
  const std::string name = entry.substr(0, colon);
  if (colon == std::string::npos || !valid_name(name)) {
    throw std::invalid_argument("--plugin-config '" + entry +
                                "': expected NAME:KEY=VALUE or NAME:{json}, NAME being the "
                                "plugin's name ([a-z0-9_-]+)");
  }
  const std::string rest = entry.substr(colon + 1);
  PluginSettings& target = settings[name];
  if (!rest.empty() && rest.front() == '{') {
    rapidjson::Document doc;
    doc.Parse(rest.c_str(), rest.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      throw std::invalid_argument("--plugin-config for plugin '" + name +
                                  "': the value starts with '{' but is not a JSON object");
    }
    if (!target.json.empty()) {
      throw std::invalid_argument("--plugin-config for plugin '" + name + "': JSON given twice");
    }
    target.json = rest;
    for (const auto& member : doc.GetObject()) {
      if (member.value.IsObject() || member.value.IsArray() || member.value.IsNull()) continue;
      target.values[std::string(member.name.GetString(), member.name.GetStringLength())] =
          scalar_text(member.value);
    }
    return;
  }
  const auto equals = rest.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw std::invalid_argument("--plugin-config '" + entry +
                                "': expected NAME:KEY=VALUE or NAME:{json}");
  }
  target.values[rest.substr(0, equals)] = rest.substr(equals + 1);
}

PluginLibrary PluginLibrary::open(const std::string& path) {
  // Plugins are never closed: their code serves the registry until exit.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw PluginError(2, "cannot load plugin " + path + ": " + ::dlerror());
  auto entry = reinterpret_cast<bwk_plugin_entry_fn>(::dlsym(handle, BULLMQ_WORKER_PLUGIN_SYMBOL));
  if (!entry) {
    throw PluginError(2, "plugin " + path + " is not a bullmq-worker plugin: it exports no '" +
                             BULLMQ_WORKER_PLUGIN_SYMBOL +
                             "' function (define one with BULLMQ_WORKER_PLUGIN)");
  }
  const bwk_plugin* plugin = entry();
  if (!plugin) throw PluginError(2, "plugin " + path + " returned no descriptor");
  if (plugin->api_version != BULLMQ_WORKER_PLUGIN_API_VERSION) {
    throw PluginError(2, "plugin " + path + " was built for plugin API version " +
                             std::to_string(plugin->api_version) + "; this worker speaks version " +
                             std::to_string(BULLMQ_WORKER_PLUGIN_API_VERSION) +
                             ": rebuild it against this worker's SDK");
  }
  const std::string name = plugin->name ? plugin->name : "";
  if (!valid_name(name)) {
    throw PluginError(
        2, "plugin " + path + " has an invalid name '" + name + "' (expected [a-z0-9_-]+)");
  }
  if (!plugin->init) throw PluginError(2, "plugin " + path + " has no init function");
  PluginLibrary library;
  library.path_ = path;
  library.name_ = name;
  library.descriptor_ = plugin;
  return library;
}

LoadedPlugin PluginLibrary::set_up(const PluginSettings& settings,
                                   bullmq::ProcessorRegistry& registry) const {
  const auto* plugin = static_cast<const bwk_plugin*>(descriptor_);
  auto state = std::make_unique<HostState>();
  state->plugin = name_;
  state->registry = &registry;
  for (const auto& [key, value] : settings.values) {
    state->keys.push_back(key);
    state->values.push_back(value);
  }
  for (std::size_t i = 0; i < state->keys.size(); ++i) {
    state->c_keys.push_back(to_c(state->keys[i]));
    state->c_values.push_back(to_c(state->values[i]));
  }
  state->json = settings.json;
  bwk_host& host = state->host;
  host.size = sizeof(bwk_host);
  host.api_version = BULLMQ_WORKER_PLUGIN_API_VERSION;
  host.state = state.get();
  host.config_keys = state->c_keys.data();
  host.config_values = state->c_values.data();
  host.config_count = state->c_keys.size();
  host.config_json = to_c(state->json);
  host.add_processor = &add_processor;
  host.add_dependency = &add_dependency;
  host.add_backoff_strategy = &add_backoff_strategy;
  host.log = &log_line;

  HostState& kept = *state;
  host_states().push_back(std::move(state));
  bullmq_worker::detail::ErrorText text;
  bwk_error error = text.sinks();
  const std::int32_t status = plugin->init(&kept.host, &error);
  if (status != BWK_OK) {
    throw PluginError(1,
                      "plugin " + name_ + " (" + path_ + ") could not set up: " +
                          (text.message.empty() ? std::string("no reason given") : text.message));
  }
  return LoadedPlugin{path_, name_, plugin->version ? plugin->version : "", kept.job_names};
}

}  // namespace plugins
