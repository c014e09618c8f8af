#include "processing/pipeline/pipeline_json.hpp"

namespace processing::pipeline_json {

bool parse_object(std::string_view text, rapidjson::Document& doc) {
  doc.Parse(text.data(), text.size());
  return !doc.HasParseError() && doc.IsObject();
}

std::string to_string(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

std::optional<std::string> get_string(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return std::nullopt;
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::optional<std::int64_t> get_int(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return std::nullopt;
  auto it = object.FindMember(name);
  if (it == object.MemberEnd()) return std::nullopt;
  if (it->value.IsInt64()) return it->value.GetInt64();
  if (it->value.IsUint64()) return static_cast<std::int64_t>(it->value.GetUint64());
  if (it->value.IsDouble()) return static_cast<std::int64_t>(it->value.GetDouble());
  return std::nullopt;
}

void strip_nul_characters(rapidjson::Value& value, rapidjson::Document::AllocatorType& allocator) {
  if (value.IsString()) {
    std::string_view s(value.GetString(), value.GetStringLength());
    if (s.find('\0') == std::string_view::npos) return;
    std::string cleaned;
    cleaned.reserve(s.size() + 8);
    for (char c : s) {
      if (c == '\0') {
        cleaned += "\xEF\xBF\xBD";
      } else {
        cleaned += c;
      }
    }
    value.SetString(cleaned.data(), static_cast<rapidjson::SizeType>(cleaned.size()), allocator);
  } else if (value.IsArray()) {
    for (auto& item : value.GetArray()) strip_nul_characters(item, allocator);
  } else if (value.IsObject()) {
    for (auto& member : value.GetObject()) {
      strip_nul_characters(member.name, allocator);
      strip_nul_characters(member.value, allocator);
    }
  }
}

void write_string(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_opt_string(Writer& w, const std::optional<std::string>& s) {
  if (s) {
    write_string(w, *s);
  } else {
    w.Null();
  }
}

void write_opt_int(Writer& w, const std::optional<std::int64_t>& v) {
  if (v) {
    w.Int64(*v);
  } else {
    w.Null();
  }
}

}  // namespace processing::pipeline_json
