// RapidJSON helpers shared by the pipeline processors: reading job data and
// stored JSON leniently, and writing optional values. Internal to
// src/processing/pipeline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace processing::pipeline_json {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Parses `text`; false when it is not valid JSON or not an object.
bool parse_object(std::string_view text, rapidjson::Document& doc);
// Serialises a value compactly.
std::string to_string(const rapidjson::Value& value);

// Member readers: nullopt when absent or of another type.
std::optional<std::string> get_string(const rapidjson::Value& object, const char* name);
std::optional<std::int64_t> get_int(const rapidjson::Value& object, const char* name);

// Replaces NUL characters in every string of `value` (PostgreSQL's jsonb
// refuses \u0000) with U+FFFD.
void strip_nul_characters(rapidjson::Value& value, rapidjson::Document::AllocatorType& allocator);

void write_string(Writer& w, std::string_view s);
void write_opt_string(Writer& w, const std::optional<std::string>& s);
void write_opt_int(Writer& w, const std::optional<std::int64_t>& v);

}  // namespace processing::pipeline_json
