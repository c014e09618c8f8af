#include "db/run_summaries_repository.hpp"

#include <pqxx/result>

namespace db {

void RunSummariesRepository::upsert(const RunSummary& summary) {
  tx_.exec_params(
      "INSERT INTO run_summaries "
      "(run_id, ui_json, nested_summary, file_count, success_count, error_count) "
      "VALUES ($1, $2::jsonb, $3::jsonb, $4, $5, $6) "
      "ON CONFLICT (run_id) DO UPDATE SET ui_json = EXCLUDED.ui_json, "
      "nested_summary = EXCLUDED.nested_summary, file_count = EXCLUDED.file_count, "
      "success_count = EXCLUDED.success_count, error_count = EXCLUDED.error_count",
      summary.run_id, summary.ui_json, summary.nested_summary, summary.file_count,
      summary.success_count, summary.error_count);
}

std::optional<RunSummary> RunSummariesRepository::find_by_run_id(const std::string& run_id) {
  const auto r = tx_.exec_params(
      "SELECT run_id, ui_json::text, nested_summary::text, coalesce(file_count, 0), "
      "coalesce(success_count, 0), coalesce(error_count, 0) FROM run_summaries WHERE run_id = $1",
      run_id);
  if (r.empty()) return std::nullopt;
  RunSummary s;
  s.run_id = r[0][0].as<std::string>();
  s.ui_json = r[0][1].as<std::string>();
  s.nested_summary = r[0][2].as<std::string>();
  s.file_count = r[0][3].as<int>();
  s.success_count = r[0][4].as<int>();
  s.error_count = r[0][5].as<int>();
  return s;
}

}  // namespace db
