// Test support for the pipeline tests: a JobContext fake that records what a
// processor did, a scripted fake extractor, and helpers that create batches
// and file rows the way the backend does.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <sstream>

#include <rapidjson/document.h>

#include "bullmq/job.hpp"
#include "bullmq/processor.hpp"
#include "bullmq_worker/plugin_setup.hpp"
#include "db/connection_pool.hpp"
#include "db/file_extractions_repository.hpp"
#include "db/migrations.hpp"
#include "db/processing_jobs_repository.hpp"
#include "db/run_summaries_repository.hpp"
#include "processing/pipeline/pipeline_config.hpp"

namespace testsupport {

class FakeJobContext : public bullmq::JobContext {
 public:
  std::vector<std::string> progress;
  std::vector<std::string> logs;
  std::vector<std::string> data_updates;
  std::vector<std::chrono::milliseconds> delays;
  std::map<std::string, std::string> children;
  std::map<std::string, std::string> failures;
  bool is_cancelled = false;

  void update_progress(std::string_view json) override { progress.emplace_back(json); }
  void log(std::string_view line) override { logs.emplace_back(line); }
  void update_data(std::string_view json) override { data_updates.emplace_back(json); }
  [[noreturn]] void move_to_delayed(std::chrono::milliseconds delay) override {
    delays.push_back(delay);
    throw bullmq::DelayedError();
  }
  void move_to_waiting_children() override {}
  [[noreturn]] void move_to_wait() override { throw bullmq::WaitingError(); }
  void rate_limit(std::chrono::milliseconds) override {}
  std::string add_job(const bullmq_worker::NewJob&) override {
    throw std::logic_error("the pipeline does not add jobs");
  }
  bullmq_worker::Dependencies dependencies() override { return {children, {}, {}, failures}; }
  bullmq_worker::DependencyCounts dependency_counts() override {
    return {static_cast<std::int64_t>(children.size()), 0, 0,
            static_cast<std::int64_t>(failures.size())};
  }
  void remove_unprocessed_children() override {}
  std::map<std::string, std::string> children_values() override { return children; }
  std::map<std::string, std::string> ignored_children_failures() override { return failures; }
  bool cancelled() const override { return is_cancelled; }
  bool sleep_for(std::chrono::milliseconds) override { return !is_cancelled; }

  bool logged(const std::string& needle) const {
    for (const auto& l : logs) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }
};

// A PluginSetup that keeps what was registered.
class FakePluginSetup : public bullmq_worker::PluginSetup {
 public:
  std::map<std::string, std::shared_ptr<bullmq_worker::Processor>> processors;
  std::map<std::string, bullmq_worker::DependencyCheck> dependencies;
  std::map<std::string, bullmq_worker::BackoffStrategy> backoff_strategies;
  bullmq_worker::PluginConfig settings;

  const bullmq_worker::PluginConfig& config() const override { return settings; }
  bullmq_worker::PluginLogger logger() const override { return {}; }
  void add_processor(std::string name, std::shared_ptr<bullmq_worker::Processor> p) override {
    processors[std::move(name)] = std::move(p);
  }
  void add_dependency(std::string name, bullmq_worker::DependencyCheck check) override {
    dependencies[std::move(name)] = std::move(check);
  }
  void add_backoff_strategy(std::string type, bullmq_worker::BackoffStrategy s) override {
    backoff_strategies[std::move(type)] = std::move(s);
  }
};

inline bullmq::Job make_job(const std::string& name, const std::string& id, const std::string& data,
                            int attempts_made = 0) {
  bullmq::Job job;
  job.queue = "documents";
  job.name = name;
  job.id = id;
  job.data = data;
  job.attempts_made = attempts_made;
  job.attempts_started = attempts_made + 1;
  return job;
}

// A canned extraction result for `path`.
inline processing::ExtractionResult fake_result(std::string_view path, std::int64_t pages = 2,
                                                std::int64_t words = 120) {
  processing::ExtractionResult r;
  r.kind = path.ends_with(".pdf") ? "pdf" : "text";
  r.mime_type = r.kind == "pdf" ? "application/pdf" : "text/plain";
  r.sha256 = std::string(64, 'a');
  r.size_bytes = 1000 + path.size();
  r.pages = r.kind == "pdf" ? pages : 0;
  r.words = words;
  r.json = "{\"kind\":\"" + r.kind + "\",\"text\":\"hello " + std::string(path) + "\"}";
  return r;
}

// An extractor scripted per path: errors to throw, otherwise fake_result.
// Counts calls; thread-safe.
struct FakeExtractor {
  struct Failure {
    std::string error_type;
    bool retryable;
  };
  std::mutex mutex;
  std::map<std::string, Failure> failures;
  std::map<std::string, int> calls;
  std::function<void(std::string_view)> on_call;  // runs before the result

  processing::ExtractFunction function() {
    return [this](const std::filesystem::path&, std::string_view path,
                  const processing::ExtractionLimits&) {
      std::optional<Failure> failure;
      {
        std::lock_guard lock(mutex);
        ++calls[std::string(path)];
        auto it = failures.find(std::string(path));
        if (it != failures.end()) failure = it->second;
      }
      if (on_call) on_call(path);
      if (failure) {
        throw processing::ExtractionError(
            failure->error_type, failure->retryable,
            "fake " + failure->error_type + " for " + std::string(path));
      }
      return fake_result(path);
    };
  }
  int call_count(const std::string& path) {
    std::lock_guard lock(mutex);
    return calls[path];
  }
};

inline processing::PipelineConfig test_config() {
  processing::PipelineConfig config;
  // Reachable (the storage dependency's check passes); the fake extractor
  // never reads it.
  config.storage_root = std::filesystem::temp_directory_path();
  config.stale_processing_limit = std::chrono::seconds(600);
  config.batch_timeout = std::chrono::seconds(1800);
  return config;
}

// A migrated database with a pool on it.
struct Database {
  std::string url;
  std::shared_ptr<db::ConnectionPool> pool;
  explicit Database(std::string database_url) : url(std::move(database_url)) {
    auto connection = db::connect(url);
    std::ostringstream log;
    db::migrate(*connection, log);
    pool = std::make_shared<db::ConnectionPool>(url, db::PoolOptions{4, std::chrono::seconds(5)});
  }

  // A batch with files at `paths` (doc ids "<batch>-<i>"), as the backend
  // creates it.
  std::vector<std::string> create_batch(const std::string& batch_id,
                                        const std::vector<std::string>& paths,
                                        std::optional<int> total_files = std::nullopt) {
    return pool->transact([&](pqxx::work& tx) {
      db::ProcessingJobsRepository batches(tx);
      db::FileExtractionsRepository files(tx);
      batches.create({batch_id, "run-" + batch_id, "uploads/" + batch_id + ".zip",
                      total_files.value_or(static_cast<int>(paths.size()))});
      std::vector<std::string> ids;
      for (std::size_t i = 0; i < paths.size(); ++i) {
        ids.push_back(batch_id + "-" + std::to_string(i));
        files.create({ids.back(), "run-" + batch_id, paths[i], std::nullopt});
      }
      return ids;
    });
  }

  db::FileExtraction file(const std::string& doc_id) {
    return *pool->transact(
        [&](pqxx::work& tx) { return db::FileExtractionsRepository(tx).find_by_doc_id(doc_id); });
  }
  db::ProcessingJob batch(const std::string& batch_id) {
    return *pool->transact([&](pqxx::work& tx) {
      return db::ProcessingJobsRepository(tx).find_by_batch_id(batch_id);
    });
  }
  std::optional<db::RunSummary> summary(const std::string& run_id) {
    return pool->transact(
        [&](pqxx::work& tx) { return db::RunSummariesRepository(tx).find_by_run_id(run_id); });
  }
  void exec(const std::string& sql) {
    pool->transact([&](pqxx::work& tx) { tx.exec(sql); });
  }
};

inline rapidjson::Document parse(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  return doc;
}

}  // namespace testsupport
