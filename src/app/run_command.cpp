#include "app/run_command.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <vector>

#include "app/files_plugin.hpp"
#include "app/http_server.hpp"
#include "app/module_loader.hpp"
#include "app/observability.hpp"
#include "app/tracing_module_api.hpp"
#include "bullmq/asio.hpp"
#include "bullmq/logger.hpp"
#include "bullmq/worker.hpp"
#include "plugins/plugin_loader.hpp"
#include "processing/command/command_processor.hpp"
#include "processing/conformance/conformance_processors.hpp"
#include "processing/sandbox/sandboxed_process.hpp"

namespace app {
namespace {

using bullmq::logger;
namespace asio = bullmq::asio;

std::string executable_path(const char* argv0) {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
  return argv0;
}

// The files plugin's settings, from run's own flags.
plugins::PluginSettings files_settings(const RunConfig& config, const std::string& executable) {
  plugins::PluginSettings settings;
  settings.values[kFilesDatabaseUrl] = config.database_url;
  settings.values[kFilesStorageBasePath] = config.storage_base_path;
  settings.values[kFilesBatchTimeoutSeconds] = std::to_string(config.batch_processing_timeout_s);
  settings.values[kFilesDatabasePoolSize] = std::to_string(
      config.database_pool_size > 0 ? config.database_pool_size : config.worker.concurrency);
  settings.values[kFilesWorkerExecutable] = executable;
  settings.values[kFilesDocumentsPerExtractor] = std::to_string(config.documents_per_extractor);
  return settings;
}

// Fills `registry` from the built-in sets and the plugins; returns an exit
// code (2: usage, 1: a plugin's setup failed), 0 when all went well.
int register_processors(const RunConfig& config, const char* argv0,
                        bullmq::ProcessorRegistry& registry) {
  if (config.uses_processor_set("conformance")) {
    processing::register_conformance_processors(registry);
  }
  std::vector<std::pair<plugins::PluginLibrary, plugins::PluginSettings>> libraries;
  try {
    if (config.uses_processor_set("files")) {
      std::string error;
      auto files = FilesPlugin::load(&error);
      if (!files) {
        std::cerr << "bullmq-worker run: " << error << "\n";
        return 1;
      }
      if (config.migrate) {
        if (int rc = files->migrate(config.database_url.c_str()); rc != 0) return rc;
      }
      libraries.emplace_back(plugins::PluginLibrary::open(files->path),
                             files_settings(config, executable_path(argv0)));
    }
    for (const auto& path : config.plugins) {
      auto library = plugins::PluginLibrary::open(path);
      auto settings = config.plugin_settings.find(library.name());
      libraries.emplace_back(std::move(library), settings == config.plugin_settings.end()
                                                     ? plugins::PluginSettings{}
                                                     : settings->second);
    }
    for (const auto& [name, settings] : config.plugin_settings) {
      bool known = false;
      for (const auto& [library, unused] : libraries) known = known || library.name() == name;
      if (!known) {
        std::cerr << "bullmq-worker run: --plugin-config names plugin '" << name
                  << "', but no plugin of that name was loaded\n";
        return 2;
      }
    }
    for (std::size_t i = 0; i < libraries.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (libraries[i].first.name() == libraries[j].first.name()) {
          std::cerr << "bullmq-worker run: two plugins are named '" << libraries[i].first.name()
                    << "'\n";
          return 2;
        }
      }
    }
    for (const auto& [library, settings] : libraries) {
      const plugins::LoadedPlugin loaded = library.set_up(settings, registry);
      std::string names;
      for (const auto& job_name : loaded.job_names) names += (names.empty() ? "" : ",") + job_name;
      logger().info("plugin.loaded", "plugin loaded",
                    {{"plugin", loaded.name},
                     {"version", loaded.version},
                     {"path", loaded.path},
                     {"processors", names}});
    }
  } catch (const plugins::PluginError& e) {
    std::cerr << "bullmq-worker run: " << e.what() << "\n";
    return e.exit_code();
  }
  return 0;
}

// --command: one CommandProcessor per job name; a name a processor set or a
// plugin already has is a start-up error. Their stderr lines are logged per job.
int register_commands(const RunConfig& config, bullmq::ProcessorRegistry& registry) {
  for (const auto& spec : config.commands) {
    if (registry.find(spec.job_name) != nullptr) {
      std::cerr << "bullmq-worker run: --command " << spec.job_name << ": processors '"
                << config.processors << "' or a plugin already handle jobs named '" << spec.job_name
                << "'\n";
      return 2;
    }
    auto sink = [](const bullmq_worker::Job& job, std::string_view line) {
      logger().info("command.stderr", line,
                    {{"queue", job.queue}, {"job_id", job.id}, {"job_name", job.name}});
    };
    registry.add(spec.job_name,
                 std::make_shared<processing::CommandProcessor>(spec, config.command_limits, sink));
    logger().info("command.registered", "jobs of this name run a command",
                  {{"job_name", spec.job_name}, {"program", spec.program}});
  }
  return 0;
}

// Loads the tracing module when tracing is asked for (a flag, or the OTEL_*
// endpoint variables); returns an exit code, 0 when all went well.
int start_tracing(const RunConfig& config, std::unique_ptr<TracingService>& tracing) {
  const char* traces_endpoint = std::getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (config.otel_endpoint.empty() && !(traces_endpoint && *traces_endpoint)) return 0;
  std::string problem;
  OpenedModule module = open_module(kTracingModuleFile, kTracingStartSymbol, &problem);
  if (!module.handle) {
    std::cerr << "bullmq-worker run: tracing: " << problem << "\n";
    return 1;
  }
  auto start_fn = reinterpret_cast<TracingStartFn>(::dlsym(module.handle, kTracingStartSymbol));
  TracingStart start;
  start.endpoint = config.otel_endpoint.c_str();
  start.service_name = config.otel_service_name.c_str();
  start.version = BULLMQ_WORKER_VERSION;
  start.log_level = config.log_level;
  start.log_format = config.log_format;
  char error[1024] = {};
  tracing.reset(start_fn(&start, error, sizeof error));
  if (!tracing && error[0]) {
    std::cerr << "bullmq-worker run: tracing: " << error << "\n";
    return 2;
  }
  return 0;
}

}  // namespace

int run_worker(const RunConfig& config, const char* argv0) {
  bullmq::Logger::instance().configure(config.log_level, config.log_format);
  asio::io_context io(1);
  // Routes every connection: one server, the Sentinel master, or the Cluster
  // node of each queue's slot. A queue Cluster cannot serve is refused here.
  bullmq::RedisTopology topology(io.get_executor(), config.redis);
  for (const auto& q : config.queues) {
    if (auto problem = topology.check_queue(config.worker.prefix, q.name)) {
      std::cerr << "bullmq-worker run: " << *problem << "\n";
      return 2;
    }
  }
  bullmq::ProcessorRegistry registry;
  if (int rc = register_processors(config, argv0, registry); rc != 0) return rc;

  if (int rc = register_commands(config, registry); rc != 0) return rc;

  int total_concurrency = 0;
  for (const auto& q : config.queues) total_concurrency += q.concurrency;
  const int threads =
      config.worker.processor_threads > 0 ? config.worker.processor_threads : total_concurrency;
  // Threads start as blocking work first needs them: none while every
  // processor runs inline.
  bullmq::BlockingPool pool(static_cast<std::size_t>(threads));
  // Shared by every queue's worker: a processor's dependency that is down
  // stops all claims of this process until it answers again.
  bullmq::DependencyGate gate(io, pool, registry.dependencies());

  // Tracing: one span per job, exported over OTLP/HTTP on a thread of its own
  // (the tracing module). Declared before the workers: spans still open when
  // they go are ended into it.
  std::unique_ptr<TracingService> tracing;
  if (int rc = start_tracing(config, tracing); rc != 0) return rc;
  std::vector<std::unique_ptr<bullmq::Worker>> workers;
  std::vector<bullmq::Worker*> worker_list;
  for (const auto& q : config.queues) {
    bullmq::WorkerOptions options = config.worker;
    options.queue = q.name;
    options.concurrency = q.concurrency;
    workers.push_back(
        std::make_unique<bullmq::Worker>(io, pool, topology, options, registry, &gate));
    worker_list.push_back(workers.back().get());
    if (tracing) workers.back()->set_tracer(&tracing->tracer());
  }

  Observability observability(worker_list, pool, config.liveness_idle_timeout_s * 1000, gate,
                              topology);
  if (tracing) observability.set_tracing(tracing.get());
  HttpServer http(
      io, [&observability](std::string path) { return observability.handle(std::move(path)); });
  if (config.http_port > 0) {
    try {
      http.listen(config.http_host, static_cast<std::uint16_t>(config.http_port));
    } catch (const std::exception& e) {
      std::cerr << "bullmq-worker run: cannot listen on " << config.http_host << ":"
                << config.http_port << ": " << e.what() << "\n";
      return 1;
    }
  }

  if (config.redis.tls.enabled && !config.redis.tls.verify) {
    logger().warn("redis.tls_insecure",
                  "Redis TLS certificates are not checked (--redis-tls-insecure): the connection "
                  "is encrypted but anyone on the path can pose as the server",
                  {{"redis", config.redis.describe()}});
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  int signal_count = 0;
  std::size_t stopped = 0;
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int sig) {
    if (ec) return;
    ++signal_count;
    logger().info("worker.signal", "received a stop signal",
                  {{"signal", sig}, {"count", signal_count}});
    for (auto& worker : workers) {
      if (signal_count == 1) {
        worker->shutdown([&] {
          if (++stopped < workers.size()) return;
          signals.cancel();
          topology.stop();
          gate.stop();
          http.stop();
          io.stop();
        });
      } else {
        worker->abandon_running_jobs();
      }
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  topology.start();
  gate.start();
  for (auto& worker : workers) worker->start();
  io.run();
  // Every job's span has ended: send what is queued, within a bound.
  if (tracing) tracing->shutdown(std::chrono::seconds(5));

  bool abandoned = false;
  for (auto& worker : workers) abandoned = abandoned || worker->has_abandoned_processors();
  if (abandoned) {
    // Jobs were handed back but their processing threads are still busy;
    // joining them would outlive the shutdown deadline. Command programs
    // still running get SIGTERM (SIGKILL after the grace) first.
    logger().info("worker.exit", "exiting with processing threads still busy on handed-back jobs");
    processing::stop_sandboxed_processes(config.command_limits.kill_grace);
    std::fflush(nullptr);
    ::_exit(0);
  }
  pool.join();
  return 0;
}

int run_migrate(const std::string& database_url) {
  std::string error;
  auto plugin = FilesPlugin::load(&error);
  if (!plugin) {
    std::cerr << "bullmq-worker migrate: " << error << "\n";
    return 1;
  }
  return plugin->migrate(database_url.c_str());
}

int run_extract_file(int argc, char** argv) {
  std::string error;
  auto plugin = FilesPlugin::load(&error);
  if (!plugin) {
    std::printf(
        "{\"ok\":false,\"error_type\":\"extractor_unavailable\",\"retryable\":true,\"message\":\"%"
        "s\"}\n",
        "the files plugin cannot be loaded");
    std::cerr << "bullmq-worker extract-file: " << error << "\n";
    return 2;
  }
  return plugin->extract(argc, argv);
}

}  // namespace app
