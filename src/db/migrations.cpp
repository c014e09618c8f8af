#include "db/migrations.hpp"

#include <openssl/sha.h>

#include <cstdint>
#include <cstdio>
#include <exception>

#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include "db/connection_pool.hpp"
#include "db/errors.hpp"

namespace db {
namespace {

// Key of the session advisory lock that serialises `migrate` runs.
constexpr std::int64_t kMigrationLockKey = 0x62756c6c6d7131;  // "bullmq1"

constexpr std::string_view kV1Sql = R"SQL(
CREATE FUNCTION bullmq_worker_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

CREATE TABLE processing_jobs (
  id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  batch_id      text        NOT NULL UNIQUE,
  zip_path      text,
  run_id        text        NOT NULL UNIQUE,
  total_files   integer     CHECK (total_files IS NULL OR total_files >= 0),
  status        text        NOT NULL DEFAULT 'queued'
                CONSTRAINT processing_jobs_status_check CHECK (status IN
                  ('queued', 'processing', 'completed', 'completed_with_errors', 'failed')),
  error_message text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz
);
CREATE INDEX processing_jobs_status_idx ON processing_jobs (status);
CREATE TRIGGER processing_jobs_updated_at BEFORE UPDATE ON processing_jobs
  FOR EACH ROW EXECUTE FUNCTION bullmq_worker_set_updated_at();

CREATE TABLE file_extractions (
  id                      uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  doc_id                  text        NOT NULL UNIQUE,
  run_id                  text        NOT NULL
                          REFERENCES processing_jobs (run_id) ON DELETE CASCADE,
  file_path               text        NOT NULL,
  file_name               text,
  status                  text        NOT NULL DEFAULT 'pending'
                          CONSTRAINT file_extractions_status_check CHECK (status IN
                            ('pending', 'processing', 'completed', 'failed')),
  raw_extraction          jsonb,
  processing_started_at   timestamptz,
  processing_completed_at timestamptz,
  processing_duration_ms  integer     CHECK (processing_duration_ms IS NULL
                                             OR processing_duration_ms >= 0),
  retry_count             integer     NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
  error_type              text,
  error_message           text,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now()
);
-- The aggregator lists a batch's files and counts them by status.
CREATE INDEX file_extractions_run_id_status_idx ON file_extractions (run_id, status);
-- Finding rows stuck in 'processing'.
CREATE INDEX file_extractions_processing_started_idx ON file_extractions (processing_started_at)
  WHERE status = 'processing';
CREATE TRIGGER file_extractions_updated_at BEFORE UPDATE ON file_extractions
  FOR EACH ROW EXECUTE FUNCTION bullmq_worker_set_updated_at();

CREATE TABLE run_summaries (
  id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  run_id         text        NOT NULL UNIQUE
                 REFERENCES processing_jobs (run_id) ON DELETE CASCADE,
  ui_json        jsonb       NOT NULL,
  nested_summary jsonb       NOT NULL,
  file_count     integer     CHECK (file_count IS NULL OR file_count >= 0),
  success_count  integer     CHECK (success_count IS NULL OR success_count >= 0),
  error_count    integer     CHECK (error_count IS NULL OR error_count >= 0),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER run_summaries_updated_at BEFORE UPDATE ON run_summaries
  FOR EACH ROW EXECUTE FUNCTION bullmq_worker_set_updated_at();
)SQL";

// Who holds a 'processing' claim: the BullMQ job ("<queue>:<job id>"), so that
// a later attempt of the same job can resume a claim its earlier attempt left
// behind (e.g. when the database went away before the result was saved).
constexpr std::string_view kV2Sql = R"SQL(
ALTER TABLE file_extractions ADD COLUMN processing_owner text;
)SQL";

const std::vector<Migration> kMigrations = {
    {1, "pipeline tables: processing_jobs, file_extractions, run_summaries", kV1Sql},
    {2, "file_extractions.processing_owner", kV2Sql},
};

constexpr const char* kCreateMigrationsTable = R"SQL(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)
)SQL";

}  // namespace

const std::vector<Migration>& all_migrations() {
  return kMigrations;
}

int latest_schema_version() {
  return kMigrations.back().version;
}

std::string migration_checksum(std::string_view sql) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(sql.data()), sql.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  text.reserve(2 * sizeof digest);
  for (unsigned char byte : digest) {
    text += kHex[byte >> 4];
    text += kHex[byte & 15];
  }
  return text;
}

int current_schema_version(pqxx::transaction_base& tx) {
  const auto exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists[0][0].as<bool>()) return 0;
  return tx.exec("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0].as<int>();
}

MigrationOutcome migrate(pqxx::connection& connection, std::ostream& log) {
  MigrationOutcome outcome;
  {
    pqxx::nontransaction session(connection);
    // Bounded wait behind another replica's migration.
    session.exec("SET lock_timeout = '5min'");
    session.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
  }
  struct Unlock {
    pqxx::connection& connection;
    ~Unlock() {
      try {
        if (connection.is_open()) {
          pqxx::nontransaction session(connection);
          session.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
          session.exec("RESET lock_timeout");
        }
      } catch (...) {
        // The lock dies with the session anyway.
      }
    }
  } unlock{connection};

  {
    pqxx::work tx(connection);
    tx.exec(kCreateMigrationsTable);
    tx.commit();
  }
  for (const Migration& migration : kMigrations) {
    pqxx::work tx(connection);
    const std::string checksum = migration_checksum(migration.sql);
    const auto recorded = tx.exec_params(
        "SELECT checksum FROM schema_migrations WHERE version = $1", migration.version);
    if (!recorded.empty()) {
      if (recorded[0][0].as<std::string>() != checksum) {
        throw std::runtime_error("migration " + std::to_string(migration.version) +
                                 " was changed after it was applied (checksum " +
                                 recorded[0][0].as<std::string>() + ", now " + checksum + ")");
      }
      continue;
    }
    tx.exec(std::string(migration.sql));
    tx.exec_params("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                   migration.version, std::string(migration.name), checksum);
    tx.commit();
    outcome.applied.push_back(migration.version);
    log << "migrate: applied " << migration.version << " (" << migration.name << ")\n";
  }
  pqxx::work tx(connection);
  outcome.schema_version = current_schema_version(tx);
  if (outcome.schema_version > latest_schema_version()) {
    log << "migrate: warning: the database is at schema version " << outcome.schema_version
        << ", newer than this binary's " << latest_schema_version() << "\n";
  }
  return outcome;
}

int run_migrations(const std::string& database_url, std::ostream& log) {
  try {
    auto connection = connect(database_url);
    const MigrationOutcome outcome = migrate(*connection, log);
    log << "migrate: schema at version " << outcome.schema_version << " (" << outcome.applied.size()
        << " migration(s) applied)\n";
    return 0;
  } catch (const DatabaseUnavailable& e) {
    log << "migrate: error: " << e.what() << "\n";
    return 2;
  } catch (const pqxx::broken_connection& e) {
    log << "migrate: error: PostgreSQL connection lost: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    log << "migrate: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace db
