#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <pqxx/pqxx>
#include <pqxx/transaction>

#include "db/connection_pool.hpp"
#include "db/migrations.hpp"
#include "postgres_server.hpp"

using testsupport::PostgresServer;

namespace {

std::vector<std::pair<int, std::string>> recorded_migrations(const std::string& url) {
  auto connection = db::connect(url);
  pqxx::work tx(*connection);
  std::vector<std::pair<int, std::string>> rows;
  for (const auto& row : tx.exec("SELECT version, checksum FROM schema_migrations ORDER BY 1")) {
    rows.emplace_back(row[0].as<int>(), row[1].as<std::string>());
  }
  return rows;
}

}  // namespace

TEST_CASE("migrate creates the schema on an empty database and re-running applies nothing") {
  const std::string url = PostgresServer::fresh_database_url("migrate");
  std::ostringstream log;
  REQUIRE(db::run_migrations(url, log) == 0);
  CHECK(log.str().find("applied 1") != std::string::npos);

  const auto rows = recorded_migrations(url);
  REQUIRE(rows.size() == db::all_migrations().size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows[i].first == db::all_migrations()[i].version);
    CHECK(rows[i].second == db::migration_checksum(db::all_migrations()[i].sql));
  }

  auto connection = db::connect(url);
  {
    pqxx::work tx(*connection);
    CHECK(db::current_schema_version(tx) == db::latest_schema_version());
    for (const char* table : {"processing_jobs", "file_extractions", "run_summaries"}) {
      CHECK(tx.exec_params("SELECT to_regclass($1) IS NOT NULL", std::string(table))[0][0]
                .as<bool>());
    }
    CHECK(tx.exec("SELECT count(*) FROM pg_indexes WHERE indexname = "
                  "'file_extractions_run_id_status_idx'")[0][0]
              .as<int>() == 1);
    // Defaults: uuid, status, timestamps.
    const auto row = tx.exec1(
        "INSERT INTO processing_jobs (batch_id, run_id) VALUES ('b', 'r') "
        "RETURNING id::text, status, created_at IS NOT NULL");
    CHECK(row[0].as<std::string>().size() == 36);
    CHECK(row[1].as<std::string>() == "queued");
    CHECK(row[2].as<bool>());
    tx.abort();
  }
  {
    // Status values are checked.
    pqxx::work tx(*connection);
    CHECK_THROWS_AS(tx.exec("INSERT INTO processing_jobs (batch_id, run_id, status) "
                            "VALUES ('b2', 'r2', 'bogus')"),
                    pqxx::check_violation);
  }
  {
    // file_extractions.run_id references processing_jobs.run_id.
    pqxx::work tx(*connection);
    CHECK_THROWS_AS(tx.exec("INSERT INTO file_extractions (doc_id, run_id, file_path) "
                            "VALUES ('d', 'no-such-run', 'x.txt')"),
                    pqxx::foreign_key_violation);
  }

  std::ostringstream again;
  REQUIRE(db::run_migrations(url, again) == 0);
  CHECK(again.str().find("applied 1") == std::string::npos);
  CHECK(again.str().find("0 migration(s) applied") != std::string::npos);
  CHECK(recorded_migrations(url) == rows);
}

TEST_CASE("ten concurrent migrate runs apply each migration exactly once") {
  const std::string url = PostgresServer::fresh_database_url("concurrent");
  constexpr int kRunners = 10;
  std::vector<db::MigrationOutcome> outcomes(kRunners);
  std::vector<std::string> errors(kRunners);
  std::vector<std::unique_ptr<pqxx::connection>> connections;
  for (int i = 0; i < kRunners; ++i) connections.push_back(db::connect(url));
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kRunners; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < kRunners) std::this_thread::yield();  // start together
      try {
        std::ostringstream log;
        outcomes[i] = db::migrate(*connections[i], log);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();

  std::multiset<int> applied;
  for (int i = 0; i < kRunners; ++i) {
    CHECK_MESSAGE(errors[i].empty(), errors[i]);
    CHECK(outcomes[i].schema_version == db::latest_schema_version());
    applied.insert(outcomes[i].applied.begin(), outcomes[i].applied.end());
  }
  CHECK(applied.size() == db::all_migrations().size());
  for (const auto& m : db::all_migrations()) CHECK(applied.count(m.version) == 1);
  CHECK(recorded_migrations(url).size() == db::all_migrations().size());
}

TEST_CASE("migrate reports an unreachable database and a changed migration") {
  std::ostringstream log;
  CHECK(db::run_migrations("postgresql://postgres@127.0.0.1:1/nothing", log) == 2);
  CHECK(log.str().find("cannot connect") != std::string::npos);

  const std::string url = PostgresServer::fresh_database_url("checksum");
  std::ostringstream first;
  REQUIRE(db::run_migrations(url, first) == 0);
  {
    auto connection = db::connect(url);
    pqxx::work tx(*connection);
    tx.exec("UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1");
    tx.commit();
  }
  std::ostringstream second;
  CHECK(db::run_migrations(url, second) == 1);
  CHECK(second.str().find("was changed after it was applied") != std::string::npos);
}

TEST_CASE("the pool is bounded and reports a missing database as unavailable") {
  const std::string url = PostgresServer::fresh_database_url("pool");
  db::ConnectionPool pool(url, {2, std::chrono::milliseconds(200)});
  CHECK(pool.transact([](pqxx::work& tx) { return tx.exec("SELECT 1")[0][0].as<int>(); }) == 1);
  CHECK(pool.open_connections() == 1);
  CHECK(pool.idle_connections() == 1);

  // Two transactions hold both connections: a third caller times out.
  std::atomic<int> inside{0};
  std::atomic<bool> release{false};
  std::vector<std::thread> holders;
  for (int i = 0; i < 2; ++i) {
    holders.emplace_back([&] {
      pool.transact([&](pqxx::work&) {
        ++inside;
        while (!release.load()) std::this_thread::yield();
      });
    });
  }
  while (inside.load() < 2) std::this_thread::yield();
  CHECK(pool.open_connections() == 2);
  CHECK_THROWS_AS(pool.transact([](pqxx::work&) {}), db::DatabaseUnavailable);
  release = true;
  for (auto& t : holders) t.join();
  CHECK(pool.open_connections() == 2);
  CHECK_NOTHROW(pool.transact([](pqxx::work&) {}));

  // SQL errors keep their type and leave the connection usable.
  CHECK_THROWS_AS(pool.transact([](pqxx::work& tx) { tx.exec("SELECT * FROM no_such_table"); }),
                  pqxx::undefined_table);
  CHECK(pool.transact([](pqxx::work& tx) { return tx.exec("SELECT 2")[0][0].as<int>(); }) == 2);

  db::ConnectionPool nowhere(PostgresServer::shared().url("no_such_database"));
  CHECK_THROWS_AS(nowhere.transact([](pqxx::work&) {}), db::DatabaseUnavailable);
  CHECK(nowhere.open_connections() == 0);
}
