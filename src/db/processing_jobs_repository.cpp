#include "db/processing_jobs_repository.hpp"

#include <pqxx/result>

#include "db/row_access.hpp"

namespace db {
namespace {

using detail::opt_int;
using detail::opt_text;
using detail::param;

const std::string kColumns =
    "id::text, batch_id, zip_path, run_id, total_files, status, error_message, " +
    detail::iso_utc("created_at") + ", " + detail::iso_utc("completed_at") +
    ", extract(epoch FROM now() - created_at)";

ProcessingJob from_row(const pqxx::row& r) {
  ProcessingJob job;
  job.id = r[0].as<std::string>();
  job.batch_id = r[1].as<std::string>();
  job.zip_path = opt_text(r[2]);
  job.run_id = r[3].as<std::string>();
  job.total_files = opt_int(r[4]);
  job.status = r[5].as<std::string>();
  job.error_message = opt_text(r[6]);
  job.created_at = r[7].as<std::string>();
  job.completed_at = opt_text(r[8]);
  job.age_seconds = r[9].as<double>();
  return job;
}

std::optional<ProcessingJob> first(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  return from_row(r[0]);
}

}  // namespace

std::optional<ProcessingJob> ProcessingJobsRepository::find_by_batch_id(const std::string& batch_id,
                                                                        bool for_update) {
  return first(tx_.exec_params("SELECT " + kColumns + " FROM processing_jobs WHERE batch_id = $1" +
                                   (for_update ? " FOR UPDATE" : ""),
                               batch_id));
}

std::optional<ProcessingJob> ProcessingJobsRepository::find_by_run_id(const std::string& run_id) {
  return first(
      tx_.exec_params("SELECT " + kColumns + " FROM processing_jobs WHERE run_id = $1", run_id));
}

ProcessingJob ProcessingJobsRepository::create(const NewProcessingJob& job) {
  const std::optional<std::string> total =
      job.total_files ? std::optional<std::string>(std::to_string(*job.total_files)) : std::nullopt;
  return from_row(tx_.exec_params1(
      std::string("INSERT INTO processing_jobs (batch_id, run_id, zip_path, total_files) "
                  "VALUES ($1, $2, $3, $4::integer) RETURNING ") +
          kColumns,
      job.batch_id, job.run_id, param(job.zip_path), param(total)));
}

void ProcessingJobsRepository::mark_processing(const std::string& batch_id) {
  tx_.exec_params(
      "UPDATE processing_jobs SET status = 'processing' WHERE batch_id = $1 AND status = 'queued'",
      batch_id);
}

ProcessingJob ProcessingJobsRepository::finish(const std::string& batch_id,
                                               const std::string& status,
                                               const std::optional<std::string>& error_message) {
  return from_row(tx_.exec_params1(
      std::string("UPDATE processing_jobs SET "
                  "completed_at = CASE WHEN status = $2 THEN coalesce(completed_at, now()) "
                  "ELSE now() END, "
                  "status = $2, error_message = $3 WHERE batch_id = $1 RETURNING ") +
          kColumns,
      batch_id, status, param(error_message)));
}

}  // namespace db
