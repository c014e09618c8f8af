// Access to the `run_summaries` table: the aggregated result of one batch
// (run), written by the aggregate-batch processor and read by the UI.
// upsert() is keyed by run_id, so re-running an aggregation rewrites the same
// row. A repository is a thin view over a caller-owned transaction.
#pragma once

#include <optional>
#include <string>

#include <pqxx/transaction_base>

namespace db {

struct RunSummary {
  std::string run_id;
  std::string ui_json;         // JSON text
  std::string nested_summary;  // JSON text
  int file_count = 0;
  int success_count = 0;
  int error_count = 0;
};

class RunSummariesRepository {
 public:
  explicit RunSummariesRepository(pqxx::transaction_base& tx) : tx_(tx) {}

  // Inserts or replaces the summary of summary.run_id.
  void upsert(const RunSummary& summary);
  // JSON columns come back as PostgreSQL prints jsonb (normalised).
  std::optional<RunSummary> find_by_run_id(const std::string& run_id);

 private:
  pqxx::transaction_base& tx_;
};

}  // namespace db
