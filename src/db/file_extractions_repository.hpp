// Access to the `file_extractions` table: one row per file of a batch, with
// its status (pending -> processing -> completed | failed) and raw_extraction.
//
// The backend creates the rows (the pipeline may create a missing one with
// get_or_create). A 'processing' row is claimed by one BullMQ job: its
// processing_owner ("<queue>:<job id>") and processing_started_at form the
// claim; complete() and fail() only write while that claim still holds, so a
// worker whose row was taken over cannot overwrite the new owner's result.
// A repository is a thin view over a caller-owned transaction.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <pqxx/transaction_base>

namespace db {

struct FileExtraction {
  std::string id;  // uuid
  std::string doc_id;
  std::string run_id;
  std::string file_path;  // relative to the storage root
  std::optional<std::string> file_name;
  std::string status;
  std::optional<std::string> raw_extraction;           // JSON text
  std::optional<std::string> processing_started_at;    // UTC ISO-8601
  std::optional<std::string> processing_completed_at;  // UTC ISO-8601
  std::optional<int> processing_duration_ms;
  int retry_count = 0;
  std::optional<std::string> error_type;
  std::optional<std::string> error_message;
  std::optional<std::string> processing_owner;
  // now() - processing_started_at, when started.
  std::optional<double> processing_age_seconds;
};

struct NewFileExtraction {
  std::string doc_id;
  std::string run_id;
  std::string file_path;
  std::optional<std::string> file_name;
};

// Identifies one claim of a row (see the file comment).
struct ProcessingClaim {
  std::string doc_id;
  std::string owner;
  std::string started_at;  // exact timestamptz text, as PostgreSQL printed it
};

class FileExtractionsRepository {
 public:
  explicit FileExtractionsRepository(pqxx::transaction_base& tx) : tx_(tx) {}

  // `for_update` locks the row until the transaction ends.
  std::optional<FileExtraction> find_by_doc_id(const std::string& doc_id, bool for_update = false);
  // Atomic get-or-create: INSERT ... ON CONFLICT (doc_id) DO NOTHING, then
  // the row (locked FOR UPDATE). `created` tells whether this call inserted
  // it. Throws pqxx::foreign_key_violation when run_id has no batch.
  FileExtraction get_or_create(const NewFileExtraction& file, bool* created = nullptr);
  // Inserts a pending row (what the backend does; used by tests and demos).
  FileExtraction create(const NewFileExtraction& file);
  // All files of a run, ordered by file_path then doc_id.
  std::vector<FileExtraction> list_by_run_id(const std::string& run_id);

  // Marks the row 'processing' for `owner` now, clears the previous result,
  // and raises retry_count to at least `retry_count`.
  ProcessingClaim claim(const std::string& doc_id, const std::string& owner, int retry_count);
  // 'processing' -> 'completed' with the result; false when the claim no
  // longer holds (the row was taken over).
  bool complete(const ProcessingClaim& claim, const std::string& raw_extraction_json,
                int duration_ms);
  // 'processing' -> 'failed'; false when the claim no longer holds.
  bool fail(const ProcessingClaim& claim, const std::string& error_type,
            const std::string& error_message, int duration_ms);
  // pending/processing -> failed without a claim (the job that owned the file
  // ended without recording a result). False when the row was finished.
  bool fail_unfinished(const std::string& doc_id, const std::string& error_type,
                       const std::string& error_message);

 private:
  pqxx::transaction_base& tx_;
};

}  // namespace db
