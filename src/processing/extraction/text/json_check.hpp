// Checks whether text is well-formed JSON (RapidJSON's SAX reader in
// iterative mode, so deep nesting cannot exhaust the stack and no DOM is
// built). Owned by the document extractors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace processing {

struct JsonCheck {
  bool valid = false;
  std::string root_type;  // "object", "array", "string", "number", "bool", "null"
  std::string error;      // RapidJSON's message when invalid
  std::uint64_t error_offset = 0;
};

JsonCheck check_json(std::string_view utf8_text);

}  // namespace processing
