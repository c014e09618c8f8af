#include <doctest/doctest.h>

#include <string>

#include "pipeline_fixtures.hpp"
#include "postgres_server.hpp"
#include "processing/pipeline/batch_aggregator.hpp"
#include "processing/pipeline/file_processor.hpp"

using namespace testsupport;
using namespace std::chrono_literals;

namespace {

struct Outcome {
  std::string result;
  std::string error;
  bool delayed = false;
  bool unrecoverable = false;
  bool failed = false;
};

Outcome run(bullmq::Processor& p, const bullmq::Job& job, FakeJobContext& ctx) {
  Outcome o;
  try {
    o.result = p.process(job, ctx);
  } catch (const bullmq::DelayedError&) {
    o.delayed = true;
  } catch (const bullmq::UnrecoverableError& e) {
    o.failed = o.unrecoverable = true;
    o.error = e.what();
  } catch (const std::exception& e) {
    o.failed = true;
    o.error = e.what();
  }
  return o;
}

void process_all(Database& db, FakeExtractor& extractor, const std::vector<std::string>& ids) {
  processing::FileProcessor processor(db.pool, test_config(), extractor.function());
  for (const auto& id : ids) {
    FakeJobContext ctx;
    try {
      processor.process(make_job("process-file", "pf-" + id, "{\"doc_id\":\"" + id + "\"}"), ctx);
    } catch (const std::exception&) {
      // failures are recorded on the row
    }
  }
}

const rapidjson::Value* find_folder(const rapidjson::Value& folder, const std::string& name) {
  for (const auto& child : folder["folders"].GetArray()) {
    if (name == child["name"].GetString()) return &child;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("the full life of a batch: process every file, then aggregate (twice)") {
  Database db(PostgresServer::fresh_database_url("agg"));
  const auto ids =
      db.create_batch("b1", {"cover.pdf", "docs/a.txt", "docs/deep/b.pdf", "docs/deep/bad.pdf"});
  FakeExtractor extractor;
  extractor.failures["docs/deep/bad.pdf"] = {"corrupt", false};
  processing::BatchAggregator aggregator(db.pool, test_config());

  // Before the files ran: the aggregation waits.
  FakeJobContext early;
  CHECK(run(aggregator, make_job("aggregate-batch", "agg", R"({"batch_id":"b1"})"), early).delayed);
  CHECK(db.batch("b1").status == "processing");

  process_all(db, extractor, ids);
  FakeJobContext ctx;
  const Outcome o =
      run(aggregator, make_job("aggregate-batch", "agg", R"({"batch_id":"b1"})"), ctx);
  REQUIRE_MESSAGE(!o.failed, o.error);
  REQUIRE(!o.delayed);
  auto result = parse(o.result);
  CHECK(std::string(result["status"].GetString()) == "completed_with_errors");
  CHECK(result["file_count"].GetInt() == 4);
  CHECK(result["success_count"].GetInt() == 3);
  CHECK(result["error_count"].GetInt() == 1);
  CHECK(ctx.progress.back() == "100");

  const auto batch = db.batch("b1");
  CHECK(batch.status == "completed_with_errors");
  CHECK(batch.error_message == "1 of 4 files failed");
  REQUIRE(batch.completed_at);

  const auto summary = db.summary("run-b1");
  REQUIRE(summary);
  CHECK(summary->file_count == 4);
  CHECK(summary->success_count == 3);
  CHECK(summary->error_count == 1);

  auto ui = parse(summary->ui_json);
  CHECK(std::string(ui["batch"]["status"].GetString()) == "completed_with_errors");
  CHECK(std::string(ui["batch"]["completed_at"].GetString()) == *batch.completed_at);
  REQUIRE(ui["files"].Size() == 4);
  const auto& cover = ui["files"][0];
  CHECK(std::string(cover["name"].GetString()) == "cover.pdf");
  CHECK(std::string(cover["type"].GetString()) == "pdf");
  CHECK(std::string(cover["status"].GetString()) == "completed");
  CHECK(cover["pages"].GetInt() == 2);
  CHECK(cover["words"].GetInt() == 120);
  CHECK(cover["size_bytes"].GetInt() == 1009);
  CHECK(cover["duration_ms"].IsInt());
  CHECK(cover["error"].IsNull());
  const auto& bad = ui["files"][3];
  CHECK(std::string(bad["path"].GetString()) == "docs/deep/bad.pdf");
  CHECK(std::string(bad["status"].GetString()) == "failed");
  CHECK(std::string(bad["type"].GetString()) == "pdf");  // from the extension
  CHECK(std::string(bad["error_type"].GetString()) == "corrupt");
  CHECK(std::string(bad["error"].GetString()).find("fake corrupt") != std::string::npos);
  CHECK(!ui.HasMember("flow"));

  auto nested = parse(summary->nested_summary);
  const auto& root = nested["tree"];
  CHECK(root["file_count"].GetInt() == 4);
  CHECK(root["by_status"]["completed"].GetInt() == 3);
  CHECK(root["by_status"]["failed"].GetInt() == 1);
  CHECK(root["by_type"]["pdf"].GetInt() == 3);
  CHECK(root["by_type"]["text"].GetInt() == 1);
  CHECK(root["files"].Size() == 1);
  const auto* docs = find_folder(root, "docs");
  REQUIRE(docs);
  CHECK((*docs)["file_count"].GetInt() == 3);
  CHECK((*docs)["files"].Size() == 1);
  const auto* deep = find_folder(*docs, "deep");
  REQUIRE(deep);
  CHECK(std::string((*deep)["path"].GetString()) == "docs/deep");
  CHECK((*deep)["file_count"].GetInt() == 2);
  CHECK((*deep)["by_status"]["failed"].GetInt() == 1);
  CHECK((*deep)["files"].Size() == 2);

  // Again (re-delivery, a second aggregate job): the same rows.
  FakeJobContext again_ctx;
  const Outcome again =
      run(aggregator, make_job("aggregate-batch", "agg2", R"({"batch_id":"b1"})"), again_ctx);
  REQUIRE_MESSAGE(!again.failed, again.error);
  CHECK(again.result == o.result);
  const auto summary2 = db.summary("run-b1");
  CHECK(summary2->ui_json == summary->ui_json);
  CHECK(summary2->nested_summary == summary->nested_summary);
  CHECK(db.batch("b1").completed_at == batch.completed_at);
  CHECK(db.batch("b1").status == batch.status);
  // And processing the files again changes nothing either.
  process_all(db, extractor, ids);
  CHECK(extractor.call_count("cover.pdf") == 1);
}

TEST_CASE("aggregate-batch final status: completed, failed, empty") {
  Database db(PostgresServer::fresh_database_url("agg"));
  FakeExtractor extractor;
  extractor.failures["x.pdf"] = {"corrupt", false};
  extractor.failures["y.pdf"] = {"too_large", false};
  process_all(db, extractor, db.create_batch("ok", {"a.txt", "b.txt"}));
  process_all(db, extractor, db.create_batch("bad", {"x.pdf", "y.pdf"}));
  db.create_batch("empty", {});
  processing::BatchAggregator aggregator(db.pool, test_config());

  for (const auto& [batch_id, status] : std::vector<std::pair<std::string, std::string>>{
           {"ok", "completed"}, {"bad", "failed"}, {"empty", "completed"}}) {
    CAPTURE(batch_id);
    FakeJobContext ctx;
    const Outcome o =
        run(aggregator,
            make_job("aggregate-batch", batch_id, "{\"batch_id\":\"" + batch_id + "\"}"), ctx);
    REQUIRE_MESSAGE(!o.failed, o.error);
    CHECK(std::string(parse(o.result)["status"].GetString()) == status);
    CHECK(db.batch(batch_id).status == status);
    CHECK(db.batch(batch_id).completed_at.has_value());
    CHECK(db.summary("run-" + batch_id).has_value());
  }
  CHECK(db.batch("bad").error_message == "all 2 files failed");
  CHECK(!db.batch("ok").error_message);
}

TEST_CASE("aggregate-batch waits with growing delays without spending attempts") {
  Database db(PostgresServer::fresh_database_url("agg"));
  const auto ids = db.create_batch("b1", {"a.txt", "b.txt"}, 3);  // one row not created yet
  FakeExtractor extractor;
  process_all(db, extractor, {ids[0]});
  processing::BatchAggregator aggregator(db.pool, test_config());

  std::string data = R"({"batch_id":"b1","extra":"kept"})";
  std::vector<std::chrono::milliseconds> delays;
  for (int round = 0; round < 8; ++round) {
    FakeJobContext ctx;
    const Outcome o = run(aggregator, make_job("aggregate-batch", "agg", data), ctx);
    REQUIRE(o.delayed);
    REQUIRE(ctx.delays.size() == 1);
    REQUIRE(ctx.data_updates.size() == 1);
    delays.push_back(ctx.delays[0]);
    data = ctx.data_updates[0];
    auto updated = parse(data);
    CHECK(updated["wait_rounds"].GetInt() == round + 1);
    CHECK(std::string(updated["extra"].GetString()) == "kept");
    CHECK(ctx.logged("waiting for 2 of 3 files (pending 1, processing 0, missing 1)"));
  }
  CHECK(delays == std::vector<std::chrono::milliseconds>{1000ms, 2000ms, 4000ms, 8000ms, 16000ms,
                                                         32000ms, 60000ms, 60000ms});
  CHECK(!db.summary("run-b1"));
  CHECK(db.batch("b1").status == "processing");

  // The missing file arrives (get-or-create) and everything finishes.
  processing::FileProcessor processor(db.pool, test_config(), extractor.function());
  FakeJobContext pf_ctx;
  processor.process(make_job("process-file", "late",
                             R"({"doc_id":"late","run_id":"run-b1","file_path":"c.txt"})"),
                    pf_ctx);
  process_all(db, extractor, {ids[1]});
  FakeJobContext ctx;
  const Outcome done = run(aggregator, make_job("aggregate-batch", "agg", data), ctx);
  REQUIRE_MESSAGE(!done.failed, done.error);
  REQUIRE(!done.delayed);
  CHECK(db.batch("b1").status == "completed");
  CHECK(db.summary("run-b1")->file_count == 3);
}

TEST_CASE("aggregate-batch gives up after BATCH_PROCESSING_TIMEOUT") {
  Database db(PostgresServer::fresh_database_url("agg"));
  db.create_batch("old", {"a.txt", "b.txt"});
  db.create_batch("young", {"a.txt"});
  FakeExtractor extractor;
  process_all(db, extractor, {"old-0"});
  db.exec(
      "UPDATE processing_jobs SET created_at = now() - interval '2 hours' WHERE batch_id = 'old'");
  db.exec(
      "UPDATE processing_jobs SET created_at = now() - interval '1798 seconds' "
      "WHERE batch_id = 'young'");
  processing::BatchAggregator aggregator(db.pool, test_config());

  FakeJobContext ctx;
  const Outcome o =
      run(aggregator, make_job("aggregate-batch", "agg", R"({"batch_id":"old"})"), ctx);
  CHECK(o.unrecoverable);
  CHECK(o.error.find("batch_timeout") != std::string::npos);
  CHECK(o.error.find("1 of 2 files unfinished") != std::string::npos);
  CHECK(ctx.delays.empty());
  const auto batch = db.batch("old");
  CHECK(batch.status == "failed");
  CHECK(batch.error_message.value_or("").find("timed out") != std::string::npos);
  CHECK(batch.completed_at.has_value());
  const auto summary = db.summary("run-old");
  REQUIRE(summary);
  CHECK(summary->success_count == 1);
  CHECK(parse(summary->ui_json)["batch"]["unfinished_count"].GetInt() == 1);

  // Near the timeout, the delay does not overshoot it.
  FakeJobContext young_ctx;
  const Outcome y = run(
      aggregator, make_job("aggregate-batch", "agg2", R"({"batch_id":"young","wait_rounds":9})"),
      young_ctx);
  REQUIRE(y.delayed);
  REQUIRE(young_ctx.delays.size() == 1);
  CHECK(young_ctx.delays[0] <= 2100ms);
  CHECK(young_ctx.delays[0] >= 1ms);
}

TEST_CASE("aggregate-batch as a flow parent uses its children's results") {
  Database db(PostgresServer::fresh_database_url("agg"));
  const auto ids = db.create_batch("f1", {"a.txt", "b.txt", "c.txt"});
  FakeExtractor extractor;
  process_all(db, extractor, {ids[0], ids[1]});
  // c.txt's job died with the database down: its row stayed 'processing'.
  db.exec(
      "UPDATE file_extractions SET status = 'processing', processing_owner = 'documents:pf-c', "
      "processing_started_at = now() WHERE doc_id = 'f1-2'");

  processing::BatchAggregator aggregator(db.pool, test_config());
  FakeJobContext ctx;
  ctx.children["bull:documents:pf-a"] = R"({"doc_id":"f1-0"})";
  ctx.children["bull:documents:pf-b"] = R"({"doc_id":"f1-1","status":"completed"})";
  ctx.failures["bull:documents:pf-c"] =
      "process-file doc_id=f1-2: database_unavailable: PostgreSQL connection lost";
  const Outcome o =
      run(aggregator, make_job("aggregate-batch", "agg", R"({"batch_id":"f1"})"), ctx);
  REQUIRE_MESSAGE(!o.failed, o.error);
  REQUIRE(!o.delayed);
  CHECK(ctx.logged("flow parent: 2 children completed, 1 failed"));
  CHECK(ctx.logged("marked f1-2 failed"));
  const auto c = db.file("f1-2");
  CHECK(c.status == "failed");
  CHECK(c.error_type == "job_failed");
  CHECK(c.error_message == ctx.failures["bull:documents:pf-c"]);
  CHECK(db.batch("f1").status == "completed_with_errors");
  auto ui = parse(db.summary("run-f1")->ui_json);
  REQUIRE(ui.HasMember("flow"));
  CHECK(ui["flow"]["children_completed"].GetInt() == 2);
  CHECK(ui["flow"]["children_failed"].GetInt() == 1);

  // Without failed children to explain them, unfinished rows are waited for.
  const auto ids2 = db.create_batch("f2", {"a.txt", "b.txt"});
  process_all(db, extractor, {ids2[0]});
  FakeJobContext ctx2;
  ctx2.children["bull:documents:x"] = R"({"doc_id":"f2-0"})";
  CHECK(run(aggregator, make_job("aggregate-batch", "agg2", R"({"batch_id":"f2"})"), ctx2).delayed);
  CHECK(db.file("f2-1").status == "pending");
}

TEST_CASE("aggregate-batch rejects malformed data and unknown batches") {
  Database db(PostgresServer::fresh_database_url("agg"));
  processing::BatchAggregator aggregator(db.pool, test_config());
  for (const std::string data : {"nope", "[]", "{}", R"({"batch_id":1})", R"({"batch_id":""})",
                                 R"({"batch_id":"missing"})"}) {
    CAPTURE(data);
    FakeJobContext ctx;
    const Outcome o = run(aggregator, make_job("aggregate-batch", "a", data), ctx);
    CHECK(o.unrecoverable);
    CHECK(o.error.find("invalid_job_data") != std::string::npos);
  }
  CHECK(processing::aggregate_wait_delay(test_config(), 0) == 1000ms);
  CHECK(processing::aggregate_wait_delay(test_config(), 100) == 60000ms);
}
