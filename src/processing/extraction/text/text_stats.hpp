// Character, line and word counts of UTF-8 text. A word is a maximal run of
// non-whitespace characters (Unicode white space included). Owned by the
// document extractors.
#pragma once

#include <cstdint>
#include <string_view>

namespace processing {

struct TextStats {
  std::uint64_t characters = 0;
  std::uint64_t lines = 0;  // "a\nb" and "a\nb\n" both have 2 lines; "" has 0
  std::uint64_t words = 0;
};

TextStats text_stats(std::string_view utf8_text);
std::uint64_t count_words(std::string_view utf8_text);
bool is_white_space(char32_t code_point);

}  // namespace processing
