#include "processing/pipeline/file_processor.hpp"

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <utility>

#include <pqxx/except>

#include "db/file_extractions_repository.hpp"
#include "processing/extraction/extraction_errors.hpp"
#include "processing/pipeline/pipeline_dependencies.hpp"
#include "processing/pipeline/pipeline_json.hpp"
#include "processing/pipeline/process_file_error.hpp"

namespace processing {
namespace {

namespace pj = pipeline_json;
using Clock = std::chrono::steady_clock;

[[noreturn]] void invalid_data(std::string_view doc_id, const std::string& message) {
  throw bullmq_worker::UnrecoverableError(process_file_error(
      doc_id.empty() ? std::string("?") : std::string(doc_id), "invalid_job_data", message));
}

std::int64_t elapsed_us(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - since).count();
}

int elapsed_ms(Clock::time_point since) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
  return static_cast<int>(std::min<long long>(ms, 2'000'000'000));
}

// The extractor's JSON, guaranteed to be an object carrying the summary keys
// the aggregator reads (kind, mime_type, sha256, size_bytes, pages, words,
// truncated); keys the extractor already set are kept.
std::string raw_extraction_json(const ExtractionResult& result) {
  rapidjson::Document doc;
  rapidjson::Document original;
  original.Parse(result.json.data(), result.json.size());
  doc.SetObject();
  auto& a = doc.GetAllocator();
  if (!original.HasParseError() && original.IsObject()) {
    doc.CopyFrom(original, a);
  } else if (!original.HasParseError()) {
    doc.AddMember("extraction", rapidjson::Value(original, a), a);
  } else {
    doc.AddMember("extraction_text",
                  rapidjson::Value(result.json.data(),
                                   static_cast<rapidjson::SizeType>(result.json.size()), a),
                  a);
  }
  auto add_string = [&](const char* key, const std::string& value) {
    if (!doc.HasMember(key)) {
      doc.AddMember(
          rapidjson::StringRef(key),
          rapidjson::Value(value.data(), static_cast<rapidjson::SizeType>(value.size()), a), a);
    }
  };
  auto add_int = [&](const char* key, std::int64_t value) {
    if (!doc.HasMember(key)) doc.AddMember(rapidjson::StringRef(key), value, a);
  };
  add_string("kind", result.kind);
  add_string("mime_type", result.mime_type);
  add_string("sha256", result.sha256);
  add_int("size_bytes", static_cast<std::int64_t>(result.size_bytes));
  add_int("pages", result.pages);
  add_int("words", result.words);
  if (!doc.HasMember("truncated")) doc.AddMember("truncated", result.truncated, a);
  pj::strip_nul_characters(doc, a);
  return pj::to_string(doc);
}

struct Summary {
  std::string doc_id;
  std::string status;
  std::optional<std::string> type;
  std::optional<std::int64_t> pages;
  std::optional<std::int64_t> words;
  std::optional<std::string> sha256;
  std::optional<std::int64_t> size_bytes;
  std::optional<std::int64_t> duration_ms;
  std::optional<std::string> note;
  // Where the run's time went, µs (-1: not measured): the claim's and the
  // save's transactions, the extraction's split (ExtractionTiming), and the
  // whole process() call. For the benchmark; nothing reads it back.
  struct Timing {
    std::int64_t claim = -1;
    ExtractionTiming extraction;
    std::int64_t save = -1;
    std::int64_t total = -1;
  };
  std::optional<Timing> timing;
};

void write_timing(pj::Writer& w, const Summary::Timing& t) {
  w.StartObject();
  for (const auto& [key, value] :
       {std::pair{"claim", t.claim}, std::pair{"sandbox_start", t.extraction.sandbox_start_us},
        std::pair{"extract", t.extraction.extract_us},
        std::pair{"sandbox_finish", t.extraction.sandbox_finish_us}, std::pair{"save", t.save},
        std::pair{"total", t.total}}) {
    if (value < 0) continue;
    w.Key(key);
    w.Int64(value);
  }
  w.EndObject();
}

std::string to_json(const Summary& s) {
  rapidjson::StringBuffer buffer;
  pj::Writer w(buffer);
  w.StartObject();
  w.Key("doc_id");
  pj::write_string(w, s.doc_id);
  w.Key("status");
  pj::write_string(w, s.status);
  w.Key("type");
  pj::write_opt_string(w, s.type);
  w.Key("pages");
  pj::write_opt_int(w, s.pages);
  w.Key("words");
  pj::write_opt_int(w, s.words);
  w.Key("sha256");
  pj::write_opt_string(w, s.sha256);
  w.Key("size_bytes");
  pj::write_opt_int(w, s.size_bytes);
  w.Key("duration_ms");
  pj::write_opt_int(w, s.duration_ms);
  if (s.note) {
    w.Key("note");
    pj::write_string(w, *s.note);
  }
  if (s.timing) {
    w.Key("timing_us");
    write_timing(w, *s.timing);
  }
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

// Summary of a row that is already completed.
Summary summary_of_completed(const db::FileExtraction& row, std::string note) {
  Summary s;
  s.doc_id = row.doc_id;
  s.status = row.status;
  rapidjson::Document raw;
  if (row.raw_extraction && pj::parse_object(*row.raw_extraction, raw)) {
    s.type = pj::get_string(raw, "kind");
    s.pages = pj::get_int(raw, "pages");
    s.words = pj::get_int(raw, "words");
    s.sha256 = pj::get_string(raw, "sha256");
    s.size_bytes = pj::get_int(raw, "size_bytes");
  }
  if (row.processing_duration_ms) s.duration_ms = *row.processing_duration_ms;
  s.note = std::move(note);
  return s;
}

struct ClaimOutcome {
  std::optional<db::FileExtraction> already_completed;
  db::FileExtraction row;
  db::ProcessingClaim claim;
  std::string note;  // logged after the transaction
};

}  // namespace

FileJobData parse_file_job_data(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) invalid_data("", "job data is not valid JSON");
  if (!doc.IsObject()) invalid_data("", "job data is not a JSON object");
  FileJobData data;
  auto doc_id = doc.FindMember("doc_id");
  if (doc_id == doc.MemberEnd()) invalid_data("", "job data has no doc_id");
  if (!doc_id->value.IsString()) invalid_data("", "doc_id is not a string");
  data.doc_id.assign(doc_id->value.GetString(), doc_id->value.GetStringLength());
  if (data.doc_id.empty()) invalid_data("", "doc_id is empty");
  auto optional_string = [&](const char* name) -> std::optional<std::string> {
    auto it = doc.FindMember(name);
    if (it == doc.MemberEnd() || it->value.IsNull()) return std::nullopt;
    if (!it->value.IsString()) invalid_data(data.doc_id, std::string(name) + " is not a string");
    std::string value(it->value.GetString(), it->value.GetStringLength());
    if (value.empty()) return std::nullopt;
    return value;
  };
  data.run_id = optional_string("run_id");
  data.file_path = optional_string("file_path");
  data.file_name = optional_string("file_name");
  return data;
}

FileProcessor::FileProcessor(std::shared_ptr<db::ConnectionPool> pool, PipelineConfig config,
                             ExtractFunction extract)
    : pool_(std::move(pool)), config_(std::move(config)), extract_(std::move(extract)) {
  if (!pool_) throw std::invalid_argument("FileProcessor needs a connection pool");
  if (!extract_) throw std::invalid_argument("FileProcessor needs an extract function");
}

std::string FileProcessor::process(const bullmq_worker::Job& job,
                                   bullmq_worker::JobContext& context) {
  const FileJobData data = parse_file_job_data(job.data);
  const std::string& doc_id = data.doc_id;
  const std::string owner = job.queue + ":" + job.id;
  const double stale_seconds = static_cast<double>(config_.stale_processing_limit.count());
  const auto process_started = Clock::now();
  Summary::Timing timing;

  context.update_progress("10");
  context.log("resolving doc_id " + doc_id);

  // 1. Find (or create) the row and claim it.
  ClaimOutcome outcome;
  const auto claim_started = Clock::now();
  try {
    outcome = pool_->transact([&](pqxx::work& tx) {
      db::FileExtractionsRepository files(tx);
      ClaimOutcome o;
      auto row = files.find_by_doc_id(doc_id, /*for_update=*/true);
      if (!row) {
        if (!data.run_id || !data.file_path) {
          invalid_data(doc_id,
                       "no file_extractions row for this doc_id, and the job data has no "
                       "run_id and file_path to create it");
        }
        bool created = false;
        row =
            files.get_or_create({doc_id, *data.run_id, *data.file_path, data.file_name}, &created);
        if (created) o.note = "created the file_extractions row from the job data";
      }
      if (row->status == "completed") {
        o.already_completed = *row;
        return o;
      }
      if (row->status == "processing") {
        const double age = row->processing_age_seconds.value_or(0);
        const std::string holder = row->processing_owner.value_or("unknown");
        if (row->processing_owner && *row->processing_owner == owner) {
          o.note = "resuming the claim an earlier attempt of this job left in 'processing'";
        } else if (age >= stale_seconds) {
          o.note = "taking over a stale 'processing' claim of " + holder + " (" +
                   std::to_string(static_cast<long long>(age)) + " s old)";
        } else {
          throw std::runtime_error(process_file_error(
              doc_id, "concurrent_processing",
              "the file is being processed by " + holder + " since " +
                  std::to_string(static_cast<long long>(age)) + " s; retrying later"));
        }
      }
      o.claim = files.claim(doc_id, owner, job.attempts_made);
      o.row = std::move(*row);
      return o;
    });
  } catch (const pqxx::foreign_key_violation&) {
    invalid_data(doc_id, "run_id " + data.run_id.value_or("") + " has no processing_jobs row");
  } catch (const db::DatabaseUnavailable& e) {
    throw_database_unavailable(process_file_error(doc_id, "database_unavailable", e.what()));
  }
  timing.claim = elapsed_us(claim_started);

  if (!outcome.note.empty()) context.log(outcome.note);
  if (outcome.already_completed) {
    context.log("doc_id " + doc_id + " is already completed; not processed again");
    context.update_progress("100");
    return to_json(
        summary_of_completed(*outcome.already_completed, "already completed; not processed again"));
  }
  const db::FileExtraction& row = outcome.row;
  if (data.file_path && *data.file_path != row.file_path) {
    context.log("job file_path " + *data.file_path + " differs from the row's " + row.file_path +
                "; using the row");
  }
  if (context.cancelled()) {
    throw std::runtime_error(
        process_file_error(doc_id, "cancelled", "the job was cancelled before extraction"));
  }

  const auto started = Clock::now();
  // Records a failure on the row, then throws the job's outcome.
  auto fail = [&](const std::string& error_type, const std::string& message,
                  bool retryable) -> void {
    context.log("extraction failed (" + std::string(retryable ? "retryable" : "permanent") +
                "): " + error_type + ": " + message);
    bool recorded = false;
    try {
      recorded = pool_->transact([&](pqxx::work& tx) {
        return db::FileExtractionsRepository(tx).fail(outcome.claim, error_type, message,
                                                      elapsed_ms(started));
      });
    } catch (const db::DatabaseUnavailable& e) {
      // The job runs again once the database answers, resumes this job's
      // claim and records it then.
      throw_database_unavailable(
          process_file_error(doc_id, "database_unavailable",
                             "could not record " + error_type + " (" + message + "): " + e.what()));
    }
    if (!recorded) context.log("the claim was taken over meanwhile; failure not recorded");
    if (retryable) throw std::runtime_error(process_file_error(doc_id, error_type, message));
    throw bullmq_worker::UnrecoverableError(process_file_error(doc_id, error_type, message));
  };

  // 2. Extract.
  context.update_progress("30");
  context.log("extracting " + row.file_path);
  ExtractionResult result;
  try {
    result = extract_(config_.storage_root, row.file_path, config_.limits);
  } catch (const ExtractionError& e) {
    if (e.error_type() == error_type_name(ErrorKind::storage_unavailable)) {
      // The whole storage being away is not this document's fault: nothing
      // is recorded, the job waits for the storage like every other.
      if (std::string problem = storage_root_problem(config_.storage_root); !problem.empty()) {
        throw bullmq_worker::DependencyUnavailable(
            kStorageDependency, process_file_error(doc_id, "storage_unavailable", problem));
      }
    }
    fail(e.error_type(), e.what(), e.retryable());
  } catch (const std::exception& e) {
    fail("extraction_error", e.what(), /*retryable=*/true);
  }
  const int duration_ms = elapsed_ms(started);

  // 3. Save.
  context.update_progress("90");
  context.log("saving the extraction (" + result.kind + ", " + std::to_string(result.size_bytes) +
              " bytes)");
  const std::string raw = raw_extraction_json(result);
  bool saved = false;
  const auto save_started = Clock::now();
  try {
    saved = pool_->transact([&](pqxx::work& tx) {
      return db::FileExtractionsRepository(tx).complete(outcome.claim, raw, duration_ms);
    });
  } catch (const pqxx::data_exception& e) {
    fail("invalid_extraction", std::string("the database refused the extraction JSON: ") + e.what(),
         /*retryable=*/false);
  } catch (const db::DatabaseUnavailable& e) {
    throw_database_unavailable(process_file_error(doc_id, "database_unavailable",
                                                  std::string("saving the result: ") + e.what()));
  }
  timing.save = elapsed_us(save_started);
  if (!saved) {
    // Another job took the row over while this one extracted.
    std::optional<db::FileExtraction> current;
    try {
      current = pool_->transact(
          [&](pqxx::work& tx) { return db::FileExtractionsRepository(tx).find_by_doc_id(doc_id); });
    } catch (const db::DatabaseUnavailable& e) {
      throw_database_unavailable(process_file_error(doc_id, "database_unavailable",
                                                    std::string("reading the row: ") + e.what()));
    }
    if (current && current->status == "completed") {
      context.update_progress("100");
      return to_json(
          summary_of_completed(*current, "completed by another job that took over the claim"));
    }
    throw std::runtime_error(process_file_error(
        doc_id, "claim_lost", "another job took the file over while this one extracted"));
  }

  context.update_progress("100");
  context.log("completed in " + std::to_string(duration_ms) + " ms");
  Summary s;
  s.doc_id = doc_id;
  s.status = "completed";
  s.type = result.kind;
  s.pages = result.pages;
  s.words = result.words;
  s.sha256 = result.sha256;
  s.size_bytes = static_cast<std::int64_t>(result.size_bytes);
  s.duration_ms = duration_ms;
  if (!outcome.note.empty()) s.note = outcome.note;
  timing.extraction = result.timing;
  timing.total = elapsed_us(process_started);
  s.timing = timing;
  return to_json(s);
}

}  // namespace processing
