// A small RapidJSON writer for the extraction JSON. Every string goes through
// UTF-8 repair, so hostile bytes never produce invalid JSON. Owned by the
// document extractors.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

namespace processing {

class JsonWriter {
 public:
  JsonWriter() : writer_(buffer_) {}

  void begin_object() { writer_.StartObject(); }
  void end_object() { writer_.EndObject(); }
  void begin_array() { writer_.StartArray(); }
  void end_array() { writer_.EndArray(); }
  void key(std::string_view name);

  void value(std::string_view text);
  void value(const char* text) { value(std::string_view(text)); }
  void value(const std::string& text) { value(std::string_view(text)); }
  void value(bool flag) { writer_.Bool(flag); }
  void value(double number);
  void value(std::signed_integral auto number) { writer_.Int64(static_cast<std::int64_t>(number)); }
  void value(std::unsigned_integral auto number) {
    writer_.Uint64(static_cast<std::uint64_t>(number));
  }
  void null() { writer_.Null(); }
  // Inserts an already serialised JSON value.
  void raw(std::string_view json);

  // A string cut to `max_characters` characters (after UTF-8 repair).
  void capped_value(std::string_view text, std::uint64_t max_characters);

  template <typename T>
  void field(std::string_view name, const T& content) {
    key(name);
    value(content);
  }

  // The finished document.
  std::string str() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

}  // namespace processing
