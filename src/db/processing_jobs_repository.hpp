// Access to the `processing_jobs` table: one row per uploaded batch (ZIP).
//
// The backend creates the rows; the pipeline reads them and moves a batch
// through queued -> processing -> completed | completed_with_errors | failed.
// A repository is a thin view over a caller-owned transaction (see
// db::ConnectionPool::transact); it owns nothing.
#pragma once

#include <optional>
#include <string>

#include <pqxx/transaction_base>

namespace db {

struct ProcessingJob {
  std::string id;  // uuid
  std::string batch_id;
  std::optional<std::string> zip_path;
  std::string run_id;
  std::optional<int> total_files;
  std::string status;
  std::optional<std::string> error_message;
  std::string created_at;                   // UTC ISO-8601
  std::optional<std::string> completed_at;  // UTC ISO-8601
  double age_seconds = 0;                   // now() - created_at
};

struct NewProcessingJob {
  std::string batch_id;
  std::string run_id;
  std::optional<std::string> zip_path;
  std::optional<int> total_files;
};

class ProcessingJobsRepository {
 public:
  explicit ProcessingJobsRepository(pqxx::transaction_base& tx) : tx_(tx) {}

  // `for_update` locks the row until the transaction ends.
  std::optional<ProcessingJob> find_by_batch_id(const std::string& batch_id,
                                                bool for_update = false);
  std::optional<ProcessingJob> find_by_run_id(const std::string& run_id);
  // Inserts a queued batch (what the backend does; used by tests and demos).
  ProcessingJob create(const NewProcessingJob& job);
  // queued -> processing; other states are left alone.
  void mark_processing(const std::string& batch_id);
  // Sets a final status and error_message. completed_at is kept when the
  // status does not change (re-runs are idempotent), set to now() otherwise.
  // Returns the row as written.
  ProcessingJob finish(const std::string& batch_id, const std::string& status,
                       const std::optional<std::string>& error_message);

 private:
  pqxx::transaction_base& tx_;
};

}  // namespace db
