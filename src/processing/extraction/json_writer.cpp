#include "processing/extraction/json_writer.hpp"

#include <cmath>

#include "processing/support/utf8.hpp"

namespace processing {

void JsonWriter::key(std::string_view name) {
  const std::string clean = utf8::sanitize(name);
  writer_.Key(clean.data(), static_cast<rapidjson::SizeType>(clean.size()), true);
}

void JsonWriter::value(std::string_view text) {
  if (utf8::is_valid(text)) {  // the usual case: no copy
    writer_.String(text.data(), static_cast<rapidjson::SizeType>(text.size()), true);
    return;
  }
  const std::string clean = utf8::sanitize(text);
  writer_.String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()), true);
}

void JsonWriter::capped_value(std::string_view text, std::uint64_t max_characters) {
  const std::string clean = utf8::sanitize(text);
  value(utf8::truncate(clean, max_characters));
}

void JsonWriter::value(double number) {
  if (std::isfinite(number)) {
    writer_.Double(number);
  } else {
    writer_.Null();
  }
}

void JsonWriter::raw(std::string_view json) {
  writer_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

}  // namespace processing
