// The project's PostgreSQL schema as versioned migrations, and the code that
// applies them (`bullmq-worker migrate`).
//
// The SQL is embedded here (migrations.cpp); released entries are never
// edited, changes are new versions. Each pending migration runs in its own
// transaction together with its row in `schema_migrations` (version, name,
// checksum, applied_at). The whole run holds a session-level
// pg_advisory_lock, so concurrent `migrate` runs (ten replicas starting at
// once) apply each version exactly once; a re-run applies nothing. A recorded
// migration whose SQL checksum no longer matches is an error.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/connection>
#include <pqxx/transaction_base>

namespace db {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// All migrations, oldest first (versions 1, 2, ...).
const std::vector<Migration>& all_migrations();
// The highest version in all_migrations().
int latest_schema_version();
// The highest applied version, 0 when schema_migrations does not exist.
int current_schema_version(pqxx::transaction_base& tx);
// Stable checksum (SHA-256, hex) of a migration's SQL.
std::string migration_checksum(std::string_view sql);

struct MigrationOutcome {
  std::vector<int> applied;  // versions applied by this call, in order
  int schema_version = 0;    // after the call
};

// Applies every pending migration on `connection` (session advisory lock
// held for the duration). Writes one line per applied migration to `log`.
// Throws pqxx / std::runtime_error on failure; a failed migration's
// transaction is rolled back and later ones are not attempted.
MigrationOutcome migrate(pqxx::connection& connection, std::ostream& log);

// Entry point for `bullmq-worker migrate`: connects to `database_url`,
// migrates, and reports on `log`. Returns 0 on success (also when nothing was
// pending), 2 when PostgreSQL could not be reached, 1 when a migration failed.
int run_migrations(const std::string& database_url, std::ostream& log);

}  // namespace db
