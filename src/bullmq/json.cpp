#include "bullmq/json.hpp"

#include <rapidjson/reader.h>

namespace bullmq {

bool is_json(std::string_view text) {
  // A raw NUL is never valid JSON, but RapidJSON's streams take it for the end.
  if (text.find('\0') != std::string_view::npos) return false;
  char buffer[512];  // the reader's stack (strings are copied there); heap only beyond this
  rapidjson::MemoryPoolAllocator<> stack(buffer, sizeof buffer);
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>>
      reader(&stack, sizeof buffer / 2);
  rapidjson::MemoryStream bytes(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> input(bytes);
  rapidjson::BaseReaderHandler<> ignore;
  return !reader.Parse(input, ignore).IsError();
}

}  // namespace bullmq
