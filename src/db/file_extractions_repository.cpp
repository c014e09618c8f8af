#include "db/file_extractions_repository.hpp"

#include <pqxx/result>

#include "db/row_access.hpp"

namespace db {
namespace {

using detail::opt_double;
using detail::opt_int;
using detail::opt_text;
using detail::param;

const std::string kColumns =
    "id::text, doc_id, run_id, file_path, file_name, status, raw_extraction::text, " +
    detail::iso_utc("processing_started_at") + ", " + detail::iso_utc("processing_completed_at") +
    ", processing_duration_ms, retry_count, error_type, error_message, processing_owner, "
    "extract(epoch FROM now() - processing_started_at)";

FileExtraction from_row(const pqxx::row& r) {
  FileExtraction f;
  f.id = r[0].as<std::string>();
  f.doc_id = r[1].as<std::string>();
  f.run_id = r[2].as<std::string>();
  f.file_path = r[3].as<std::string>();
  f.file_name = opt_text(r[4]);
  f.status = r[5].as<std::string>();
  f.raw_extraction = opt_text(r[6]);
  f.processing_started_at = opt_text(r[7]);
  f.processing_completed_at = opt_text(r[8]);
  f.processing_duration_ms = opt_int(r[9]);
  f.retry_count = r[10].as<int>();
  f.error_type = opt_text(r[11]);
  f.error_message = opt_text(r[12]);
  f.processing_owner = opt_text(r[13]);
  f.processing_age_seconds = opt_double(r[14]);
  return f;
}

constexpr const char* kClaimHolds =
    " WHERE doc_id = $1 AND status = 'processing' AND processing_owner = $2"
    " AND processing_started_at = $3::timestamptz";

}  // namespace

std::optional<FileExtraction> FileExtractionsRepository::find_by_doc_id(const std::string& doc_id,
                                                                        bool for_update) {
  const auto r = tx_.exec_params("SELECT " + kColumns + " FROM file_extractions WHERE doc_id = $1" +
                                     (for_update ? " FOR UPDATE" : ""),
                                 doc_id);
  if (r.empty()) return std::nullopt;
  return from_row(r[0]);
}

FileExtraction FileExtractionsRepository::get_or_create(const NewFileExtraction& file,
                                                        bool* created) {
  const auto inserted = tx_.exec_params(
      "INSERT INTO file_extractions (doc_id, run_id, file_path, file_name) "
      "VALUES ($1, $2, $3, $4) ON CONFLICT (doc_id) DO NOTHING",
      file.doc_id, file.run_id, file.file_path, param(file.file_name));
  if (created) *created = inserted.affected_rows() == 1;
  auto row = find_by_doc_id(file.doc_id, true);
  if (!row)
    throw std::runtime_error("file_extractions row for doc_id " + file.doc_id + " vanished");
  return *row;
}

FileExtraction FileExtractionsRepository::create(const NewFileExtraction& file) {
  return from_row(tx_.exec_params1(
      std::string("INSERT INTO file_extractions (doc_id, run_id, file_path, file_name) "
                  "VALUES ($1, $2, $3, $4) RETURNING ") +
          kColumns,
      file.doc_id, file.run_id, file.file_path, param(file.file_name)));
}

std::vector<FileExtraction> FileExtractionsRepository::list_by_run_id(const std::string& run_id) {
  const auto r = tx_.exec_params("SELECT " + kColumns +
                                     " FROM file_extractions WHERE run_id = $1"
                                     " ORDER BY file_path, doc_id",
                                 run_id);
  std::vector<FileExtraction> files;
  files.reserve(r.size());
  for (const auto& row : r) files.push_back(from_row(row));
  return files;
}

ProcessingClaim FileExtractionsRepository::claim(const std::string& doc_id,
                                                 const std::string& owner, int retry_count) {
  const auto row = tx_.exec_params1(
      "UPDATE file_extractions SET status = 'processing', processing_owner = $2, "
      "processing_started_at = clock_timestamp(), processing_completed_at = NULL, "
      "processing_duration_ms = NULL, raw_extraction = NULL, error_type = NULL, "
      "error_message = NULL, retry_count = greatest(retry_count, $3) "
      "WHERE doc_id = $1 RETURNING processing_started_at::text",
      doc_id, owner, retry_count);
  return {doc_id, owner, row[0].as<std::string>()};
}

bool FileExtractionsRepository::complete(const ProcessingClaim& claim,
                                         const std::string& raw_extraction_json, int duration_ms) {
  const auto r = tx_.exec_params(
      std::string("UPDATE file_extractions SET status = 'completed', raw_extraction = $4::jsonb, "
                  "processing_completed_at = clock_timestamp(), processing_duration_ms = $5, "
                  "error_type = NULL, error_message = NULL") +
          kClaimHolds,
      claim.doc_id, claim.owner, claim.started_at, raw_extraction_json, duration_ms);
  return r.affected_rows() == 1;
}

bool FileExtractionsRepository::fail(const ProcessingClaim& claim, const std::string& error_type,
                                     const std::string& error_message, int duration_ms) {
  const auto r = tx_.exec_params(
      std::string("UPDATE file_extractions SET status = 'failed', raw_extraction = NULL, "
                  "processing_completed_at = clock_timestamp(), processing_duration_ms = $6, "
                  "error_type = $4, error_message = $5") +
          kClaimHolds,
      claim.doc_id, claim.owner, claim.started_at, error_type, error_message, duration_ms);
  return r.affected_rows() == 1;
}

bool FileExtractionsRepository::fail_unfinished(const std::string& doc_id,
                                                const std::string& error_type,
                                                const std::string& error_message) {
  const auto r = tx_.exec_params(
      "UPDATE file_extractions SET status = 'failed', error_type = $2, error_message = $3, "
      "processing_completed_at = clock_timestamp() "
      "WHERE doc_id = $1 AND status IN ('pending', 'processing')",
      doc_id, error_type, error_message);
  return r.affected_rows() == 1;
}

}  // namespace db
