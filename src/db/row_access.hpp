// Small helpers shared by the repositories (internal to src/db): reading
// nullable columns and passing nullable parameters with libpqxx 6.4.
#pragma once

#include <optional>
#include <string>

#include <pqxx/field>

namespace db::detail {

inline std::optional<std::string> opt_text(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

inline std::optional<int> opt_int(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<int>();
}

inline std::optional<double> opt_double(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<double>();
}

// A parameter that is SQL NULL when the optional is empty.
inline const char* param(const std::optional<std::string>& value) {
  return value ? value->c_str() : nullptr;
}

// SQL that reads a timestamptz column as UTC ISO-8601 text, e.g.
// 2026-11-30T14:00:00.123Z.
inline std::string iso_utc(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

}  // namespace db::detail
