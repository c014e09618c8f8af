#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>

#include "pipeline_fixtures.hpp"
#include "postgres_server.hpp"
#include "processing/pipeline/file_processor.hpp"
#include "processing/pipeline/register_pipeline.hpp"

using namespace testsupport;

namespace {

// Runs the processor; returns the result or the caught exception's kind.
struct Run {
  std::string result;
  std::string error;
  bool unrecoverable = false;
  bool failed = false;
};

Run run(bullmq::Processor& p, const bullmq::Job& job, FakeJobContext& ctx) {
  Run r;
  try {
    r.result = p.process(job, ctx);
  } catch (const bullmq::UnrecoverableError& e) {
    r.failed = r.unrecoverable = true;
    r.error = e.what();
  } catch (const std::exception& e) {
    r.failed = true;
    r.error = e.what();
  }
  return r;
}

}  // namespace

TEST_CASE("process-file extracts, records completed and returns a summary") {
  Database db(PostgresServer::fresh_database_url("pf"));
  const auto ids = db.create_batch("b1", {"report.pdf"});
  FakeExtractor extractor;
  processing::FileProcessor processor(db.pool, test_config(), extractor.function());
  FakeJobContext ctx;
  const Run r = run(processor, make_job("process-file", "1", "{\"doc_id\":\"b1-0\"}"), ctx);
  REQUIRE_MESSAGE(!r.failed, r.error);

  auto result = parse(r.result);
  CHECK(std::string(result["doc_id"].GetString()) == "b1-0");
  CHECK(std::string(result["status"].GetString()) == "completed");
  CHECK(std::string(result["type"].GetString()) == "pdf");
  CHECK(result["pages"].GetInt() == 2);
  CHECK(result["words"].GetInt() == 120);
  CHECK(std::string(result["sha256"].GetString()) == std::string(64, 'a'));
  CHECK(ctx.progress == std::vector<std::string>{"10", "30", "90", "100"});
  CHECK(ctx.logged("extracting report.pdf"));
  // The time split: the transactions and the whole run; the fake extractor
  // measures nothing, so no extraction figures.
  REQUIRE(result.HasMember("timing_us"));
  const auto& timing = result["timing_us"];
  CHECK(timing["claim"].GetInt64() >= 0);
  CHECK(timing["save"].GetInt64() >= 0);
  CHECK(timing["total"].GetInt64() >= timing["claim"].GetInt64() + timing["save"].GetInt64());
  CHECK(!timing.HasMember("sandbox_start"));
  CHECK(!timing.HasMember("extract"));

  const auto row = db.file("b1-0");
  CHECK(row.status == "completed");
  CHECK(row.processing_started_at.has_value());
  CHECK(row.processing_completed_at.has_value());
  CHECK(row.processing_duration_ms.value_or(-1) >= 0);
  CHECK(row.retry_count == 0);
  CHECK(!row.error_type);
  REQUIRE(row.raw_extraction);
  auto raw = parse(*row.raw_extraction);
  CHECK(std::string(raw["text"].GetString()) == "hello report.pdf");      // the extractor's JSON
  CHECK(std::string(raw["mime_type"].GetString()) == "application/pdf");  // summary keys added
  CHECK(raw["size_bytes"].GetInt() == 1010);
  CHECK(extractor.call_count("report.pdf") == 1);
}

TEST_CASE("process-file is idempotent: a completed row is not processed again") {
  Database db(PostgresServer::fresh_database_url("pf"));
  db.create_batch("b1", {"a.txt"});
  FakeExtractor extractor;
  processing::FileProcessor processor(db.pool, test_config(), extractor.function());
  FakeJobContext first_ctx;
  REQUIRE(
      !run(processor, make_job("process-file", "1", "{\"doc_id\":\"b1-0\"}"), first_ctx).failed);
  const auto before = db.file("b1-0");

  FakeJobContext ctx;
  const Run again = run(processor, make_job("process-file", "2", "{\"doc_id\":\"b1-0\"}"), ctx);
  REQUIRE(!again.failed);
  auto result = parse(again.result);
  CHECK(std::string(result["status"].GetString()) == "completed");
  CHECK(std::string(result["note"].GetString()).find("already completed") != std::string::npos);
  CHECK(result["words"].GetInt() == 120);
  CHECK(extractor.call_count("a.txt") == 1);
  const auto after = db.file("b1-0");
  CHECK(after.processing_started_at == before.processing_started_at);
  CHECK(after.processing_completed_at == before.processing_completed_at);
  CHECK(after.raw_extraction == before.raw_extraction);
  CHECK(after.processing_owner == before.processing_owner);
}

TEST_CASE("process-file classifies errors: permanent fail now, retryable go back to BullMQ") {
  Database db(PostgresServer::fresh_database_url("pf"));
  const std::vector<std::string> permanent = {"missing_file", "path_escape",    "too_large",
                                              "corrupt",      "archive_limits", "timeout",
                                              "invalid_input"};
  std::vector<std::string> paths = permanent;
  paths.push_back("flaky");
  db.create_batch("b1", paths);
  FakeExtractor extractor;
  for (const auto& type : permanent) extractor.failures[type] = {type, false};
  extractor.failures["flaky"] = {"storage_unavailable", true};
  processing::FileProcessor processor(db.pool, test_config(), extractor.function());

  for (std::size_t i = 0; i < permanent.size(); ++i) {
    CAPTURE(permanent[i]);
    const std::string doc = "b1-" + std::to_string(i);
    FakeJobContext ctx;
    const Run r =
        run(processor, make_job("process-file", doc, "{\"doc_id\":\"" + doc + "\"}"), ctx);
    CHECK(r.unrecoverable);
    CHECK(r.error.find("process-file doc_id=" + doc + ": " + permanent[i]) == 0);
    const auto row = db.file(doc);
    CHECK(row.status == "failed");
    CHECK(row.error_type == permanent[i]);
    CHECK(row.error_message.value_or("").find("fake " + permanent[i]) != std::string::npos);
    CHECK(!row.raw_extraction);
  }

  // Retryable: a normal failure (attempts/backoff apply), recorded on the row.
  const std::string doc = "b1-" + std::to_string(permanent.size());
  FakeJobContext ctx;
  const Run r =
      run(processor, make_job("process-file", "flaky-job", "{\"doc_id\":\"" + doc + "\"}"), ctx);
  CHECK(r.failed);
  CHECK(!r.unrecoverable);
  CHECK(r.error.find("storage_unavailable") != std::string::npos);
  CHECK(db.file(doc).status == "failed");
  CHECK(db.file(doc).error_type == "storage_unavailable");

  // The next attempt succeeds once storage is back; retry_count records it.
  extractor.failures.erase("flaky");
  FakeJobContext retry_ctx;
  const Run retry =
      run(processor, make_job("process-file", "flaky-job", "{\"doc_id\":\"" + doc + "\"}", 1),
          retry_ctx);
  REQUIRE_MESSAGE(!retry.failed, retry.error);
  const auto row = db.file(doc);
  CHECK(row.status == "completed");
  CHECK(row.retry_count == 1);
  CHECK(!row.error_type);
  CHECK(!row.error_message);
}

TEST_CASE("process-file reports an unreachable storage root as a dependency, recording nothing") {
  Database db(PostgresServer::fresh_database_url("pf"));
  db.create_batch("b1", {"a.txt"});
  FakeExtractor extractor;
  extractor.failures["a.txt"] = {"storage_unavailable", true};
  processing::PipelineConfig config = test_config();
  config.storage_root = "/nonexistent-storage-root";
  processing::FileProcessor processor(db.pool, config, extractor.function());
  FakeJobContext ctx;
  bool dependency = false;
  try {
    processor.process(make_job("process-file", "j1", R"({"doc_id":"b1-0"})"), ctx);
  } catch (const bullmq::DependencyUnavailable& e) {
    dependency = true;
    CHECK(e.dependency() == "storage");
    CHECK(std::string(e.what()).find("/nonexistent-storage-root cannot be reached") !=
          std::string::npos);
  }
  CHECK(dependency);
  // Not the document's fault: the row keeps this job's claim, no failure.
  const auto row = db.file("b1-0");
  CHECK(row.status == "processing");
  CHECK(!row.error_type);

  // Once the storage is back, the same job resumes its claim and completes.
  extractor.failures.erase("a.txt");
  processing::FileProcessor back(db.pool, test_config(), extractor.function());
  FakeJobContext retry_ctx;
  const Run retry = run(back, make_job("process-file", "j1", R"({"doc_id":"b1-0"})"), retry_ctx);
  REQUIRE_MESSAGE(!retry.failed, retry.error);
  CHECK(db.file("b1-0").status == "completed");
}

TEST_CASE("process-file treats unexpected extractor exceptions as retryable") {
  Database db(PostgresServer::fresh_database_url("pf"));
  db.create_batch("b1", {"weird.bin"});
  processing::FileProcessor processor(
      db.pool, test_config(),
      [](const std::filesystem::path&, std::string_view, const processing::ExtractionLimits&)
          -> processing::ExtractionResult { throw std::out_of_range("boom"); });
  FakeJobContext ctx;
  const Run r = run(processor, make_job("process-file", "1", "{\"doc_id\":\"b1-0\"}"), ctx);
  CHECK(r.failed);
  CHECK(!r.unrecoverable);
  CHECK(db.file("b1-0").error_type == "extraction_error");
}

TEST_CASE("process-file rejects malformed job data as unrecoverable") {
  Database db(PostgresServer::fresh_database_url("pf"));
  FakeExtractor extractor;
  processing::FileProcessor processor(db.pool, test_config(), extractor.function());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {"[1,2]", "not a JSON object"},
      {"{}", "no doc_id"},
      {"{\"doc_id\":42}", "doc_id is not a string"},
      {"{\"doc_id\":\"\"}", "doc_id is empty"},
      {"{\"doc_id\":\"d\",\"run_id\":7}", "run_id is not a string"},
      {"{\"doc_id\":\"unknown\"}", "no file_extractions row"},
  };
  for (const auto& [data, expected] : cases) {
    CAPTURE(data);
    FakeJobContext ctx;
    const Run r = run(processor, make_job("process-file", "1", data), ctx);
    CHECK(r.unrecoverable);
    CHECK(r.error.find("invalid_job_data") != std::string::npos);
    CHECK(r.error.find(expected) != std::string::npos);
  }
  CHECK(extractor.calls.empty());
}

TEST_CASE("process-file creates a missing row from run_id and file_path (get-or-create)") {
  Database db(PostgresServer::fresh_database_url("pf"));
  db.create_batch("b1", {});
  FakeExtractor extractor;
  processing::FileProcessor processor(db.pool, test_config(), extractor.function());

  FakeJobContext ctx;
  const Run r = run(processor,
                    make_job("process-file", "1",
                             R"({"doc_id":"new-doc","run_id":"run-b1","file_path":"x/new.txt",)"
                             R"("file_name":"New.txt"})"),
                    ctx);
  REQUIRE_MESSAGE(!r.failed, r.error);
  CHECK(ctx.logged("created the file_extractions row"));
  const auto row = db.file("new-doc");
  CHECK(row.status == "completed");
  CHECK(row.run_id == "run-b1");
  CHECK(row.file_path == "x/new.txt");
  CHECK(row.file_name == "New.txt");

  // Unknown run: unrecoverable, nothing created.
  FakeJobContext bad_ctx;
  const Run bad = run(
      processor,
      make_job("process-file", "2", R"({"doc_id":"orphan","run_id":"no-run","file_path":"y.txt"})"),
      bad_ctx);
  CHECK(bad.unrecoverable);
  CHECK(bad.error.find("no-run has no processing_jobs row") != std::string::npos);

  // The repository call itself is atomic and reports whether it inserted.
  db.pool->transact([](pqxx::work& tx) {
    db::FileExtractionsRepository files(tx);
    bool created = false;
    const auto a = files.get_or_create({"g1", "run-b1", "g.txt", std::nullopt}, &created);
    CHECK(created);
    const auto b = files.get_or_create({"g1", "run-b1", "other.txt", std::nullopt}, &created);
    CHECK(!created);
    CHECK(a.id == b.id);
    CHECK(b.file_path == "g.txt");
  });
}

TEST_CASE("process-file takes over stale claims, resumes its own, refuses live ones") {
  Database db(PostgresServer::fresh_database_url("pf"));
  db.create_batch("b1", {"stale.txt", "live.txt", "mine.txt"});
  db.exec(
      "UPDATE file_extractions SET status = 'processing', processing_owner = 'documents:other', "
      "processing_started_at = now() - interval '1 hour' WHERE doc_id = 'b1-0'");
  db.exec(
      "UPDATE file_extractions SET status = 'processing', processing_owner = 'documents:other', "
      "processing_started_at = now() WHERE doc_id = 'b1-1'");
  db.exec(
      "UPDATE file_extractions SET status = 'processing', processing_owner = 'documents:mine', "
      "processing_started_at = now() WHERE doc_id = 'b1-2'");
  FakeExtractor extractor;
  processing::FileProcessor processor(db.pool, test_config(), extractor.function());

  FakeJobContext stale_ctx;
  const Run stale =
      run(processor, make_job("process-file", "s", "{\"doc_id\":\"b1-0\"}"), stale_ctx);
  REQUIRE_MESSAGE(!stale.failed, stale.error);
  CHECK(stale_ctx.logged("taking over a stale 'processing' claim of documents:other"));
  CHECK(db.file("b1-0").status == "completed");
  CHECK(db.file("b1-0").processing_owner == "documents:s");

  FakeJobContext live_ctx;
  const Run live = run(processor, make_job("process-file", "l", "{\"doc_id\":\"b1-1\"}"), live_ctx);
  CHECK(live.failed);
  CHECK(!live.unrecoverable);
  CHECK(live.error.find("concurrent_processing") != std::string::npos);
  CHECK(extractor.call_count("live.txt") == 0);
  CHECK(db.file("b1-1").status == "processing");
  CHECK(db.file("b1-1").processing_owner == "documents:other");

  FakeJobContext mine_ctx;
  const Run mine =
      run(processor, make_job("process-file", "mine", "{\"doc_id\":\"b1-2\"}", 1), mine_ctx);
  REQUIRE_MESSAGE(!mine.failed, mine.error);
  CHECK(mine_ctx.logged("resuming the claim"));
  CHECK(db.file("b1-2").status == "completed");
  CHECK(db.file("b1-2").retry_count == 1);
}

TEST_CASE("a second job for a file being processed is refused; a lost claim is not overwritten") {
  Database db(PostgresServer::fresh_database_url("pf"));
  db.create_batch("b1", {"one.txt", "two.txt"});
  FakeExtractor extractor;
  processing::FileProcessor processor(db.pool, test_config(), extractor.function());

  // While job A extracts one.txt, job B for the same doc arrives.
  Run concurrent;
  bool nested = false;
  extractor.on_call = [&](std::string_view path) {
    if (path != "one.txt" || nested) return;
    nested = true;
    FakeJobContext b_ctx;
    concurrent = run(processor, make_job("process-file", "B", "{\"doc_id\":\"b1-0\"}"), b_ctx);
  };
  FakeJobContext a_ctx;
  const Run a = run(processor, make_job("process-file", "A", "{\"doc_id\":\"b1-0\"}"), a_ctx);
  REQUIRE_MESSAGE(!a.failed, a.error);
  CHECK(concurrent.failed);
  CHECK(!concurrent.unrecoverable);
  CHECK(concurrent.error.find("concurrent_processing") != std::string::npos);
  CHECK(extractor.call_count("one.txt") == 1);

  // While job C extracts two.txt, another worker takes the row over.
  extractor.on_call = [&](std::string_view path) {
    if (path != "two.txt") return;
    db.exec(
        "UPDATE file_extractions SET processing_owner = 'documents:thief', "
        "processing_started_at = now() WHERE doc_id = 'b1-1'");
  };
  FakeJobContext c_ctx;
  const Run c = run(processor, make_job("process-file", "C", "{\"doc_id\":\"b1-1\"}"), c_ctx);
  CHECK(c.failed);
  CHECK(!c.unrecoverable);
  CHECK(c.error.find("claim_lost") != std::string::npos);
  CHECK(db.file("b1-1").status == "processing");
  CHECK(db.file("b1-1").processing_owner == "documents:thief");
}

TEST_CASE("process-file stores extractor JSON with NUL characters and non-object JSON") {
  Database db(PostgresServer::fresh_database_url("pf"));
  db.create_batch("b1", {"nul.txt", "array.txt"});
  processing::FileProcessor processor(
      db.pool, test_config(),
      [](const std::filesystem::path&, std::string_view path, const processing::ExtractionLimits&) {
        auto r = fake_result(path);
        r.json = path == "nul.txt" ? R"({"text":"a\u0000b"})" : R"([1,2,3])";
        return r;
      });
  FakeJobContext ctx1;
  const Run nul = run(processor, make_job("process-file", "1", "{\"doc_id\":\"b1-0\"}"), ctx1);
  REQUIRE_MESSAGE(!nul.failed, nul.error);
  auto raw = parse(*db.file("b1-0").raw_extraction);
  CHECK(std::string(raw["text"].GetString()) ==
        "a\xEF\xBF\xBD"
        "b");
  FakeJobContext ctx2;
  const Run arr = run(processor, make_job("process-file", "2", "{\"doc_id\":\"b1-1\"}"), ctx2);
  REQUIRE_MESSAGE(!arr.failed, arr.error);
  auto raw2 = parse(*db.file("b1-1").raw_extraction);
  CHECK(raw2["extraction"].IsArray());
  CHECK(std::string(raw2["kind"].GetString()) == "text");
}

TEST_CASE("register_pipeline_processors registers both job names") {
  Database db(PostgresServer::fresh_database_url("pf"));
  FakePluginSetup registry;
  FakeExtractor extractor;
  processing::register_pipeline_processors(registry, db.pool, test_config(), extractor.function());
  CHECK(registry.processors.count("process-file") == 1);
  CHECK(registry.processors.count("aggregate-batch") == 1);
  CHECK(registry.dependencies.count("postgresql") == 1);
  CHECK(registry.dependencies.count("storage") == 1);
  // Without an extractor, the isolated one needs the worker executable.
  CHECK_THROWS_AS(processing::register_pipeline_processors(registry, db.pool, test_config()),
                  std::invalid_argument);
  CHECK_THROWS_AS(processing::register_pipeline_processors(registry, nullptr, test_config(),
                                                           extractor.function()),
                  std::invalid_argument);
}

TEST_CASE("process-file runs on several threads over a small pool") {
  Database db(PostgresServer::fresh_database_url("pf"));
  std::vector<std::string> paths;
  for (int i = 0; i < 24; ++i)
    paths.push_back("dir" + std::to_string(i % 3) + "/f" + std::to_string(i) + ".txt");
  const auto ids = db.create_batch("par", paths);
  auto small_pool =
      std::make_shared<db::ConnectionPool>(db.url, db::PoolOptions{2, std::chrono::seconds(30)});
  FakeExtractor extractor;
  processing::FileProcessor processor(small_pool, test_config(), extractor.function());
  std::atomic<std::size_t> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < ids.size(); i = next++) {
        FakeJobContext ctx;
        try {
          processor.process(make_job("process-file", ids[i], "{\"doc_id\":\"" + ids[i] + "\"}"),
                            ctx);
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(small_pool->open_connections() <= 2);
  for (const auto& id : ids) CHECK(db.file(id).status == "completed");
}
