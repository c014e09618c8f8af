// The database goes away mid-job: the processors report their dependency
// `postgresql` down (the worker then puts the job back without spending an
// attempt), and the next run, once PostgreSQL is back, finishes the work.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "db/migrations.hpp"
#include "pipeline_fixtures.hpp"
#include "postgres_server.hpp"
#include "processing/pipeline/batch_aggregator.hpp"
#include "processing/pipeline/file_processor.hpp"

using namespace testsupport;

namespace {

// Expects `fn` to report the database down.
template <class Fn>
void check_database_unavailable(Fn fn) {
  bool unavailable = false;
  bool unrecoverable = false;
  try {
    fn();
  } catch (const bullmq::DependencyUnavailable& e) {
    unavailable = true;
    CHECK(e.dependency() == "postgresql");
    CHECK(std::string(e.what()).find("database_unavailable") != std::string::npos);
  } catch (const bullmq::UnrecoverableError&) {
    unrecoverable = true;
  } catch (const std::exception& e) {
    FAIL_CHECK("unexpected error: " << e.what());
  }
  CHECK(unavailable);
  CHECK(!unrecoverable);
}

}  // namespace

TEST_CASE("a database that goes away mid-job loses nothing") {
  PostgresServer server;  // own server: this test stops it
  Database db(server.create_database("outage"));
  const auto ids = db.create_batch("b1", {"a.pdf", "b.txt", "c.pdf"});
  FakeExtractor extractor;
  extractor.failures["c.pdf"] = {"corrupt", false};
  processing::FileProcessor processor(db.pool, test_config(), extractor.function());
  processing::BatchAggregator aggregator(db.pool, test_config());

  SUBCASE("down before the job starts") {
    server.stop();
    FakeJobContext ctx;
    check_database_unavailable(
        [&] { processor.process(make_job("process-file", "1", R"({"doc_id":"b1-0"})"), ctx); });
    CHECK(extractor.call_count("a.pdf") == 0);
    FakeJobContext agg_ctx;
    check_database_unavailable([&] {
      aggregator.process(make_job("aggregate-batch", "agg", R"({"batch_id":"b1"})"), agg_ctx);
    });
    std::ostringstream log;
    CHECK(db::run_migrations(db.url, log) == 2);

    server.start();
    FakeJobContext retry_ctx;
    processor.process(make_job("process-file", "1", R"({"doc_id":"b1-0"})", 1), retry_ctx);
    CHECK(db.file("b1-0").status == "completed");
  }

  SUBCASE("down between extraction and saving") {
    bool stopped = false;
    extractor.on_call = [&](std::string_view path) {
      if (path == "b.txt" && !stopped) {
        stopped = true;
        server.stop();
      }
    };
    FakeJobContext ctx;
    check_database_unavailable(
        [&] { processor.process(make_job("process-file", "2", R"({"doc_id":"b1-1"})"), ctx); });
    CHECK(ctx.progress.back() == "90");  // it got as far as saving

    server.start();
    // The claim of the lost attempt is still there...
    const auto stuck = db.file("b1-1");
    CHECK(stuck.status == "processing");
    CHECK(stuck.processing_owner == "documents:2");
    // ...and the next attempt of the same job resumes it at once.
    FakeJobContext retry_ctx;
    const std::string result =
        processor.process(make_job("process-file", "2", R"({"doc_id":"b1-1"})", 1), retry_ctx);
    CHECK(std::string(parse(result)["status"].GetString()) == "completed");
    CHECK(retry_ctx.logged("resuming the claim"));
    const auto row = db.file("b1-1");
    CHECK(row.status == "completed");
    CHECK(row.retry_count == 1);
    REQUIRE(row.raw_extraction);
    CHECK(std::string(parse(*row.raw_extraction)["text"].GetString()) == "hello b.txt");
    CHECK(extractor.call_count("b.txt") == 2);
  }

  SUBCASE("down while recording a permanent failure") {
    bool stopped = false;
    extractor.on_call = [&](std::string_view path) {
      if (path == "c.pdf" && !stopped) {
        stopped = true;
        server.stop();
      }
    };
    FakeJobContext ctx;
    // The failure could not be recorded: retry rather than lose it.
    check_database_unavailable(
        [&] { processor.process(make_job("process-file", "3", R"({"doc_id":"b1-2"})"), ctx); });

    server.start();
    FakeJobContext retry_ctx;
    CHECK_THROWS_AS(
        processor.process(make_job("process-file", "3", R"({"doc_id":"b1-2"})", 1), retry_ctx),
        bullmq::UnrecoverableError);
    const auto row = db.file("b1-2");
    CHECK(row.status == "failed");
    CHECK(row.error_type == "corrupt");
  }

  SUBCASE("the aggregation after a restart") {
    for (const auto& id : ids) {
      FakeJobContext ctx;
      try {
        processor.process(make_job("process-file", id, "{\"doc_id\":\"" + id + "\"}"), ctx);
      } catch (const bullmq::UnrecoverableError&) {
      }
    }
    server.stop();
    server.start();
    // The pool's connections died with the server; it reconnects by itself.
    FakeJobContext ctx;
    const std::string result =
        aggregator.process(make_job("aggregate-batch", "agg", R"({"batch_id":"b1"})"), ctx);
    CHECK(std::string(parse(result)["status"].GetString()) == "completed_with_errors");
    CHECK(db.summary("run-b1")->file_count == 3);
  }
}
