#include "processing/extraction/text/json_check.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace processing {
namespace {

// Remembers the type of the first value seen, i.e. the root.
class RootTypeHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, RootTypeHandler> {
 public:
  bool Default() { return note("value"); }
  bool Null() { return note("null"); }
  bool Bool(bool) { return note("bool"); }
  bool Int(int) { return note("number"); }
  bool Uint(unsigned) { return note("number"); }
  bool Int64(std::int64_t) { return note("number"); }
  bool Uint64(std::uint64_t) { return note("number"); }
  bool Double(double) { return note("number"); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return note("number"); }
  bool String(const char*, rapidjson::SizeType, bool) { return note("string"); }
  bool StartObject() { return note("object"); }
  bool StartArray() { return note("array"); }

  const std::string& root_type() const { return root_type_; }

 private:
  bool note(const char* type) {
    if (root_type_.empty()) root_type_ = type;
    return true;
  }
  std::string root_type_;
};

}  // namespace

JsonCheck check_json(std::string_view text) {
  rapidjson::MemoryStream bytes(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(bytes);
  RootTypeHandler handler;
  rapidjson::Reader reader;
  const rapidjson::ParseResult result =
      reader.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(stream,
                                                                                           handler);
  JsonCheck check;
  check.valid = !result.IsError();
  if (check.valid) {
    check.root_type = handler.root_type();
  } else {
    check.error = rapidjson::GetParseError_En(result.Code());
    check.error_offset = result.Offset();
  }
  return check;
}

}  // namespace processing
