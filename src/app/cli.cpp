#include "app/cli.hpp"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "app/config.hpp"
#include "app/run_command.hpp"
#include "bullmq/error.hpp"
#include "bullmq/script_catalog.hpp"
#include "bullmq/tls_setup.hpp"
#include "processing/command/command_spec.hpp"

namespace app {
namespace {

constexpr int kUsageError = 2;

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

// The Redis flags as given; applied over the URL (or the host/port flags) by
// apply_redis_flags.
struct RedisFlags {
  std::string url, host, password;
  int port = 6379;
  int db = 0;
  bool tls = false;  // --redis-tls: TLS with --redis-host/--redis-port
  std::string tls_ca, tls_cert, tls_key, tls_server_name;
  bool tls_insecure = false;
};

// "true" (remove at once), "false" (keep all), N (keep newest N), or
// "age=SECONDS[,count=N][,limit=N]".
std::optional<std::string> parse_keep_jobs(const std::string& text, bullmq::KeepJobs& out) {
  auto to_int = [](std::string_view s, std::int64_t& v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && p == s.data() + s.size();
  };
  out = {};
  std::int64_t n = 0;
  if (text == "true") {
    out.count = 0;
  } else if (text == "false") {
    out.count = -1;
  } else if (to_int(text, n)) {
    out.count = n;
  } else {
    std::string_view rest = text;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      auto eq = item.find('=');
      if (eq == std::string_view::npos || !to_int(item.substr(eq + 1), n)) {
        return "expected true, false, a count, or age=SECONDS[,count=N][,limit=N], got '" + text +
               "'";
      }
      std::string_view key = item.substr(0, eq);
      if (key == "age")
        out.age_seconds = n;
      else if (key == "count")
        out.count = n;
      else if (key == "limit")
        out.limit = n;
      else
        return "unknown key '" + std::string(key) + "' in '" + text + "'";
    }
  }
  return std::nullopt;
}

// Numeric flags use integer CLI::Range checks: CLI::NonNegativeNumber would
// report "not in range 0.000000 to 1797693…" (DBL_MAX printed in full).
void add_run_options(CLI::App& run, RunConfig& cfg, std::vector<std::string>& queue_specs,
                     bool& print_config, RedisFlags& redis,
                     std::optional<std::int64_t>& limiter_max,
                     std::optional<std::int64_t>& limiter_duration, std::string& remove_on_complete,
                     std::string& remove_on_fail, std::string& log_level, std::string& log_format) {
  auto& w = cfg.worker;
  run.add_option(
         "--queue", queue_specs,
         "Queue to consume; repeat for several, NAME:N gives that queue its own concurrency")
      ->envname("BULLMQ_QUEUE")
      ->delimiter(',')
      ->required();
  run.add_flag("--print-config", print_config,
               "Print the effective settings (secrets masked) and exit");

  run.add_option(
         "--redis", redis.url,
         "Redis URL, one of:\n"
         "redis://[user:pass@]host:port[/db]\n"
         "rediss://[user:pass@]host:port[/db] (TLS)\n"
         "unix:///path/to/redis.sock[?db=N]\n"
         "redis+sentinel://[user:pass@]host:port[,host:port…]/MASTER[?db=N&sentinel_password=…]\n"
         "rediss+sentinel://… (TLS)\n"
         "redis+cluster://[user:pass@]host:port[,host:port…]\n"
         "rediss+cluster://… (TLS)")
      ->envname("REDIS_URL");
  run.add_option("--redis-host", redis.host, "Redis host, when no URL is given")
      ->envname("REDIS_HOST");
  run.add_option("--redis-port", redis.port, "Redis port, when no URL is given")
      ->envname("REDIS_PORT")
      ->check(CLI::Range(1, 65535));
  run.add_option("--redis-password", redis.password, "Redis password, when no URL is given")
      ->envname("REDIS_PASSWORD");
  run.add_option("--redis-db", redis.db, "Redis database number, when no URL is given")
      ->envname("REDIS_DB")
      ->check(CLI::Range(0, 1'000'000));
  run.add_flag("--redis-tls", redis.tls,
               "Use TLS with --redis-host/--redis-port (a URL says it with rediss://)")
      ->envname("REDIS_TLS");
  run.add_option("--redis-tls-ca", redis.tls_ca,
                 "CA certificates (PEM) to trust for the Redis server, besides the system's")
      ->envname("REDIS_TLS_CA")
      ->type_name("FILE");
  run.add_option("--redis-tls-cert", redis.tls_cert,
                 "Client certificate (PEM, chain allowed) for servers that require one (mTLS)")
      ->envname("REDIS_TLS_CERT")
      ->type_name("FILE");
  run.add_option("--redis-tls-key", redis.tls_key,
                 "Private key (PEM, unencrypted) of --redis-tls-cert")
      ->envname("REDIS_TLS_KEY")
      ->type_name("FILE");
  run.add_option("--redis-tls-server-name", redis.tls_server_name,
                 "Name sent as SNI and required in the server's certificate (default: the host)")
      ->envname("REDIS_TLS_SERVER_NAME")
      ->type_name("NAME");
  run.add_flag("--redis-tls-insecure", redis.tls_insecure,
               "Do not check the Redis server's certificate (testing only)")
      ->envname("REDIS_TLS_INSECURE");
  run.add_option("--redis-timeout", cfg.redis.timeout_ms,
                 "Deadline for any Redis reply and for connecting, ms (default 10000);\n"
                 "a silent connection is rebuilt; 0 = off")
      ->envname("REDIS_TIMEOUT")
      ->type_name("MS")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{3'600'000}));
  run.add_option("--redis-keepalive", cfg.redis.keepalive_s,
                 "TCP keepalive idle time of Redis connections, seconds; 0 = off (default 15)")
      ->envname("REDIS_KEEPALIVE")
      ->type_name("SECONDS")
      ->check(CLI::Range(0, 7200));
  run.add_option("--prefix", w.prefix, "Key prefix, as the producer's (default bull)")
      ->envname("BULLMQ_PREFIX");
  run.add_option("--concurrency", w.concurrency, "Jobs processed at once")
      ->envname("BULLMQ_CONCURRENCY")
      ->check(CLI::Range(1, 100000));
  run.add_option("--processors", cfg.processors,
                 "Built-in processor sets, comma-separated: files, conformance or none (default "
                 "files, or none when --plugin or --command is given)")
      ->envname("BULLMQ_PROCESSORS");
  run.add_option("--plugin", cfg.plugins,
                 "Load a processor plugin (a shared object built with the SDK); repeatable")
      ->envname("BULLMQ_PLUGINS")
      ->delimiter(',')
      ->type_name("PATH");
  run.add_option("--plugin-config", cfg.plugin_config_entries,
                 "A plugin's setting, NAME:KEY=VALUE or NAME:{json}; repeatable (environment: "
                 "one per line)")
      ->envname("BULLMQ_PLUGIN_CONFIG")
      ->delimiter('\n')
      ->type_name("NAME:SETTING");
  run.add_option("--lock-duration", w.lock_duration_ms, "Job lock duration, ms")
      ->envname("BULLMQ_LOCK_DURATION")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{86'400'000}));
  run.add_option("--lock-renew-time", w.lock_renew_time_ms,
                 "Lock renewal period, ms (default lock duration / 2)")
      ->envname("BULLMQ_LOCK_RENEW_TIME")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{86'400'000}));
  run.add_option("--stalled-interval", w.stalled_interval_ms, "Stalled-job check period, ms")
      ->envname("BULLMQ_STALLED_INTERVAL")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{86'400'000}));
  run.add_option("--max-stalled-count", w.max_stalled_count, "Stalls allowed before a job fails")
      ->envname("BULLMQ_MAX_STALLED_COUNT")
      ->check(CLI::Range(0, 1'000'000));
  run.add_option("--drain-delay", w.drain_delay_s,
                 "Seconds to block waiting for jobs when the queue is empty")
      ->envname("BULLMQ_DRAIN_DELAY")
      ->check(CLI::Range(0.001, 3600.0));
  run.add_option("--limiter-max", limiter_max, "Rate limit: jobs per --limiter-duration")
      ->envname("BULLMQ_LIMITER_MAX")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000'000}));
  run.add_option("--limiter-duration", limiter_duration, "Rate limit window, ms")
      ->envname("BULLMQ_LIMITER_DURATION")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{86'400'000}));
  run.add_option("--name", w.name,
                 "Worker name: listed by Queue.getWorkers(), stored as processedBy")
      ->envname("BULLMQ_WORKER_NAME");
  run.add_option("--shutdown-timeout", w.shutdown_timeout_ms,
                 "On SIGTERM, ms to let running jobs finish before handing them back to the queue")
      ->envname("BULLMQ_SHUTDOWN_TIMEOUT")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{86'400'000}));
  run.add_option("--remove-on-complete", remove_on_complete,
                 "Default retention of completed jobs: true, false, N, or age=S[,count=N]")
      ->envname("BULLMQ_REMOVE_ON_COMPLETE");
  run.add_option("--remove-on-fail", remove_on_fail, "Default retention of failed jobs (as above)")
      ->envname("BULLMQ_REMOVE_ON_FAIL");
  run.add_option("--metrics-max-data-points", w.metrics_max_data_points,
                 "Record BullMQ metrics (one point a minute), keeping this many")
      ->envname("BULLMQ_METRICS_MAX_DATA_POINTS")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000}));
  run.add_option("--max-started-attempts", w.max_started_attempts,
                 "Fail jobs started more often than this")
      ->envname("BULLMQ_MAX_STARTED_ATTEMPTS")
      ->check(CLI::Range(0, 1'000'000));
  run.add_flag("--skip-stalled-check", w.skip_stalled_check,
               "Run no stalled-job check (other workers of the queue do)")
      ->envname("BULLMQ_SKIP_STALLED_CHECK");
  run.add_flag("--skip-lock-renewal", w.skip_lock_renewal,
               "Never renew job locks: a job running past --lock-duration stalls")
      ->envname("BULLMQ_SKIP_LOCK_RENEWAL");
  run.add_option("--maximum-rate-limit-delay", w.maximum_rate_limit_delay_ms,
                 "Longest wait, ms, before claiming again while the queue is rate limited "
                 "(default 30000)")
      ->envname("BULLMQ_MAXIMUM_RATE_LIMIT_DELAY")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{86'400'000}));
  run.add_option("--processor-threads", w.processor_threads,
                 "Most threads for processors that block, started as jobs first need them "
                 "(default: the total concurrency; none while every processor runs inline)")
      ->envname("BULLMQ_PROCESSOR_THREADS")
      ->check(CLI::Range(0, 10000));
  run.add_option("--finish-connections", w.finish_connections,
                 "Redis connections that carry the jobs' finishing scripts (default: 1 below "
                 "concurrency 8, else one per 4 slots, at most 3)")
      ->envname("BULLMQ_FINISH_CONNECTIONS")
      ->check(CLI::Range(0, bullmq::WorkerOptions::kMaxFinishConnections));
  run.add_option("--log-level", log_level, "debug, info, warn, error or off")->envname("LOG_LEVEL");
  run.add_option("--log-format", log_format, "json or text")->envname("LOG_FORMAT");
  run.add_option("--database-url", cfg.database_url, "PostgreSQL URL (processors files)")
      ->envname("DATABASE_URL");
  run.add_option("--storage-base-path", cfg.storage_base_path,
                 "Root folder of uploaded files (processors files)")
      ->envname("STORAGE_BASE_PATH");
  run.add_option("--batch-processing-timeout", cfg.batch_processing_timeout_s,
                 "Seconds after a batch's creation before aggregation gives up")
      ->envname("BATCH_PROCESSING_TIMEOUT")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{30 * 86400}));
  run.add_option("--database-pool-size", cfg.database_pool_size,
                 "PostgreSQL connections (default: concurrency)")
      ->envname("DATABASE_POOL_SIZE")
      ->check(CLI::Range(0, 1000));
  run.add_option("--documents-per-extractor", cfg.documents_per_extractor,
                 "Documents one extraction child takes before a new one starts (default 1: a "
                 "new child per document; more: children that stay, sharing a process)")
      ->envname("BULLMQ_DOCUMENTS_PER_EXTRACTOR")
      ->check(CLI::Range(1, 100000));
  run.add_option("--http-port", cfg.http_port, "Port for /livez, /readyz and /metrics (0: off)")
      ->envname("BULLMQ_HTTP_PORT")
      ->check(CLI::Range(0, 65535));
  run.add_option("--http-host", cfg.http_host, "Address the HTTP endpoint listens on")
      ->envname("BULLMQ_HTTP_HOST");
  run.add_option(
         "--liveness-idle-timeout", cfg.liveness_idle_timeout_s,
         "Seconds a worker with free slots may claim nothing while its queue has waiting jobs "
         "before /livez fails")
      ->envname("BULLMQ_LIVENESS_IDLE_TIMEOUT")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{86'400}));
  run.add_flag("--migrate", cfg.migrate,
               "Apply database migrations before starting (processors files)")
      ->envname("BULLMQ_MIGRATE");
  run.add_option("--otel-endpoint", cfg.otel_endpoint,
                 "OTLP/HTTP collector base URL: one span per job goes to <url>/v1/traces")
      ->envname("OTEL_EXPORTER_OTLP_ENDPOINT");
  run.add_option("--otel-service-name", cfg.otel_service_name,
                 "service.name of the spans (default bullmq-worker)")
      ->envname("OTEL_SERVICE_NAME");
}

// The --command flags as given (see finish_commands).
struct CommandFlags {
  std::vector<std::string> specs;
  std::int64_t timeout_ms = 3'600'000;
  std::string memory_limit, max_output;
  std::int64_t cpu_limit_s = 0;
  std::int64_t open_files = 0;
  std::int64_t kill_grace_ms = 3000;
};

void add_command_options(CLI::App& run, CommandFlags& flags) {
  run.add_option("--command", flags.specs,
                 "Run a program for each job named NAME: 'NAME=PROGRAM [ARGS…]' (quoted like a "
                 "shell, never run by one); repeat for several (environment: one per line)")
      ->envname("BULLMQ_COMMANDS")
      ->delimiter('\n')
      ->type_name("'NAME=PROGRAM ARGS…'");
  run.add_option("--command-timeout", flags.timeout_ms,
                 "Wall-clock limit of one command run, ms (default 3600000; 0 = none)")
      ->envname("BULLMQ_COMMAND_TIMEOUT")
      ->type_name("MS")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{7 * 86'400'000LL}));
  run.add_option("--command-memory-limit", flags.memory_limit,
                 "Address-space limit of a command (RLIMIT_AS): bytes or 512M, 2G (default none)")
      ->envname("BULLMQ_COMMAND_MEMORY_LIMIT")
      ->type_name("SIZE");
  run.add_option("--command-cpu-limit", flags.cpu_limit_s,
                 "CPU-time limit of a command run (RLIMIT_CPU), seconds (default 0 = none)")
      ->envname("BULLMQ_COMMAND_CPU_LIMIT")
      ->type_name("SECONDS")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{86'400'000}));
  run.add_option("--command-open-files", flags.open_files,
                 "Open-file limit of a command (RLIMIT_NOFILE) (default 0 = inherited)")
      ->envname("BULLMQ_COMMAND_OPEN_FILES")
      ->type_name("N")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1'048'576}));
  run.add_option("--command-max-output", flags.max_output,
                 "Bound of a command's stdout, of its stderr and of one request line (default "
                 "16M)")
      ->envname("BULLMQ_COMMAND_MAX_OUTPUT")
      ->type_name("SIZE");
  run.add_option("--command-kill-grace", flags.kill_grace_ms,
                 "Ms between SIGTERM and SIGKILL when a command is stopped (default 3000)")
      ->envname("BULLMQ_COMMAND_KILL_GRACE")
      ->type_name("MS")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{600'000}));
}

// Parses the commands (PROGRAM resolved on PATH) and their limits; returns
// an error. A job name given twice is an error.
std::optional<std::string> finish_commands(RunConfig& cfg, const CommandFlags& flags) {
  // BULLMQ_COMMANDS arrives split on newlines: blank and '#' lines go.
  std::vector<std::string> specs;
  for (const auto& given : flags.specs) {
    for (auto& line : processing::split_command_lines(given)) specs.push_back(std::move(line));
  }
  const char* path = env("PATH");
  for (const auto& text : specs) {
    try {
      processing::CommandSpec spec = processing::parse_command_spec(text);
      spec.program = processing::resolve_program(spec.program, path ? path : "/usr/bin:/bin");
      for (const auto& other : cfg.commands) {
        if (other.job_name == spec.job_name) {
          return "--command: job name '" + spec.job_name + "' is given twice";
        }
      }
      cfg.commands.push_back(std::move(spec));
    } catch (const std::invalid_argument& e) {
      return "--command " + text + ": " + e.what();
    }
  }
  auto& limits = cfg.command_limits;
  limits.timeout = std::chrono::milliseconds(flags.timeout_ms);
  limits.cpu_seconds = static_cast<std::uint64_t>(flags.cpu_limit_s);
  limits.open_files = static_cast<std::uint64_t>(flags.open_files);
  limits.kill_grace = std::chrono::milliseconds(flags.kill_grace_ms);
  try {
    if (!flags.memory_limit.empty()) {
      limits.memory_bytes = processing::parse_byte_size(flags.memory_limit);
    }
  } catch (const std::invalid_argument& e) {
    return std::string("--command-memory-limit: ") + e.what();
  }
  try {
    if (!flags.max_output.empty()) {
      limits.max_output_bytes = processing::parse_byte_size(flags.max_output);
      if (limits.max_output_bytes == 0) return "--command-max-output: must be more than 0";
    }
  } catch (const std::invalid_argument& e) {
    return std::string("--command-max-output: ") + e.what();
  }
  return std::nullopt;
}

// The Redis URL (or --redis-host/--redis-port…), then the TLS flags over the
// URL's query options; returns an error.
std::optional<std::string> apply_redis_flags(const RedisFlags& flags, bullmq::RedisOptions& out) {
  if (!flags.url.empty()) {
    if (auto err = bullmq::parse_redis_url(flags.url, out)) return "--redis: " + *err;
  } else {
    if (!flags.host.empty()) out.host = flags.host;
    out.port = static_cast<std::uint16_t>(flags.port);
    out.password = flags.password;
    out.db = flags.db;
    out.tls.enabled = flags.tls;
  }
  const char* tls_flag = flags.tls                        ? "--redis-tls"
                         : !flags.tls_ca.empty()          ? "--redis-tls-ca"
                         : !flags.tls_cert.empty()        ? "--redis-tls-cert"
                         : !flags.tls_key.empty()         ? "--redis-tls-key"
                         : !flags.tls_server_name.empty() ? "--redis-tls-server-name"
                         : flags.tls_insecure             ? "--redis-tls-insecure"
                                                          : nullptr;
  if (tls_flag && !out.tls.enabled) {
    if (flags.url.empty()) return std::string(tls_flag) + " needs TLS: add --redis-tls";
    return std::string(tls_flag) + " needs a TLS connection, but --redis " + out.describe() +
           " is not one: use rediss:// (or rediss+sentinel://, rediss+cluster://)";
  }
  if (!flags.tls_ca.empty()) out.tls.ca_file = flags.tls_ca;
  if (!flags.tls_cert.empty()) out.tls.cert_file = flags.tls_cert;
  if (!flags.tls_key.empty()) out.tls.key_file = flags.tls_key;
  if (!flags.tls_server_name.empty()) out.tls.server_name = flags.tls_server_name;
  if (flags.tls_insecure) out.tls.verify = false;
  return std::nullopt;
}

// `--processors`: a comma-separated list of built-in sets.
std::optional<std::string> check_processor_sets(const std::string& list) {
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    const std::string set = list.substr(start, comma - start);
    if (set != "files" && set != "conformance" && set != "none") {
      return "--processors: unknown processor set '" + set +
             "' (the built-in sets are files and conformance; your own processors come in "
             "with --plugin)";
    }
    start = comma + 1;
  }
  return std::nullopt;
}

// Turns the raw flag values into a validated RunConfig; returns an error.
std::optional<std::string> finish_run_config(
    RunConfig& cfg, const std::vector<std::string>& queue_specs, const RedisFlags& redis,
    std::optional<std::int64_t> limiter_max, std::optional<std::int64_t> limiter_duration,
    const std::string& remove_on_complete, const std::string& remove_on_fail,
    const std::string& log_level, const std::string& log_format) {
  if (auto err = apply_redis_flags(redis, cfg.redis)) return err;
  if (limiter_max.has_value() != limiter_duration.has_value()) {
    return "--limiter-max and --limiter-duration go together";
  }
  if (limiter_max) cfg.worker.limiter = bullmq::RateLimit{*limiter_max, *limiter_duration};
  if (!remove_on_complete.empty()) {
    bullmq::KeepJobs k;
    if (auto err = parse_keep_jobs(remove_on_complete, k)) return "--remove-on-complete: " + *err;
    cfg.worker.remove_on_complete = k;
  }
  if (!remove_on_fail.empty()) {
    bullmq::KeepJobs k;
    if (auto err = parse_keep_jobs(remove_on_fail, k)) return "--remove-on-fail: " + *err;
    cfg.worker.remove_on_fail = k;
  }
  if (!log_level.empty() && !bullmq::parse_log_level(log_level, cfg.log_level)) {
    return "--log-level: expected debug, info, warn, error or off, got '" + log_level + "'";
  }
  if (!log_format.empty() && !bullmq::parse_log_format(log_format, cfg.log_format)) {
    return "--log-format: expected json or text, got '" + log_format + "'";
  }
  for (const auto& spec : queue_specs) {
    QueueSpec queue{spec, cfg.worker.concurrency};
    if (auto colon = spec.rfind(':'); colon != std::string::npos) {
      queue.name = spec.substr(0, colon);
      const std::string n = spec.substr(colon + 1);
      auto [ptr, ec] = std::from_chars(n.data(), n.data() + n.size(), queue.concurrency);
      if (ec != std::errc() || ptr != n.data() + n.size() || queue.concurrency < 1) {
        return "--queue " + spec +
               ": expected NAME or NAME:CONCURRENCY with a concurrency of at least 1";
      }
    }
    for (const auto& other : cfg.queues) {
      if (other.name == queue.name) return "--queue " + queue.name + " is given twice";
    }
    bullmq::WorkerOptions options = cfg.worker;
    options.queue = queue.name;
    options.concurrency = queue.concurrency;
    if (auto err = options.validate(); !err.empty()) return err;
    cfg.queues.push_back(queue);
  }
  // Plugins or commands alone need no built-in set (and not the files plugin).
  if (cfg.processors.empty()) {
    cfg.processors = cfg.plugins.empty() && cfg.commands.empty() ? "files" : "none";
  }
  if (auto err = check_processor_sets(cfg.processors)) return err;
  for (const auto& entry : cfg.plugin_config_entries) {
    try {
      plugins::add_plugin_setting(cfg.plugin_settings, entry);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
  }
  if (cfg.uses_processor_set("files")) {
    if (cfg.database_url.empty()) return "processors 'files' need --database-url (or DATABASE_URL)";
    if (cfg.storage_base_path.empty()) {
      return "processors 'files' need --storage-base-path (or STORAGE_BASE_PATH)";
    }
  }
  return std::nullopt;
}

}  // namespace

int main_entry(int argc, char** argv) {
  // Internal: the isolated extraction child the `files` processors start.
  if (argc > 1 && std::string_view(argv[1]) == "extract-file") {
    return run_extract_file(argc, argv);
  }
  CLI::App app{"bullmq-worker: a native worker for BullMQ queues"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print the version and the pinned BullMQ version");
  app.set_config("--config", "",
                 "Read options from a TOML/INI file: a [run] section whose keys are the flag names "
                 "(bullmq-worker --config FILE run)");

  RunConfig cfg;
  std::vector<std::string> queue_specs;
  bool print_config = false;
  RedisFlags redis;
  std::string remove_on_complete, remove_on_fail;
  std::string log_level, log_format;
  std::optional<std::int64_t> limiter_max, limiter_duration;
  if (const char* level = env("LOG_LEVEL")) log_level = level;
  auto* run = app.add_subcommand("run", "Consume a queue");
  add_run_options(*run, cfg, queue_specs, print_config, redis, limiter_max, limiter_duration,
                  remove_on_complete, remove_on_fail, log_level, log_format);
  CommandFlags command_flags;
  add_command_options(*run, command_flags);

  std::string migrate_url;
  auto* migrate = app.add_subcommand("migrate", "Apply the PostgreSQL migrations and exit");
  migrate->add_option("--database-url", migrate_url, "PostgreSQL URL")
      ->envname("DATABASE_URL")
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "bullmq-worker: " << e.what() << "\n(see bullmq-worker --help)\n";
    return kUsageError;
  }

  if (show_version) {
    std::printf("bullmq-worker %s (BullMQ scripts %s)\n", BULLMQ_WORKER_VERSION,
                bullmq::kBullmqVersion);
    return 0;
  }
  if (*run) {
    if (auto err = finish_commands(cfg, command_flags)) {
      std::cerr << "bullmq-worker run: " << *err << "\n";
      return kUsageError;
    }
    if (auto err = finish_run_config(cfg, queue_specs, redis, limiter_max, limiter_duration,
                                     remove_on_complete, remove_on_fail, log_level, log_format)) {
      std::cerr << "bullmq-worker run: " << *err << "\n";
      return kUsageError;
    }
    if (print_config) {
      std::cout << describe_config(cfg);
      return 0;
    }
    if (cfg.redis.tls.enabled) {
      // Bad CA, certificate or key files are found now, not by every
      // connection attempt.
      try {
        bullmq::make_tls_context(cfg.redis.tls);
      } catch (const bullmq::Error& e) {
        std::cerr << "bullmq-worker run: " << e.what() << "\n";
        return kUsageError;
      }
    }
    return run_worker(cfg, argv[0]);
  }
  if (*migrate) return run_migrate(migrate_url);
  std::cerr << app.help();
  return kUsageError;
}

}  // namespace app
