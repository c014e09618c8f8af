#include "processing/extraction/text/text_stats.hpp"

#include "processing/support/utf8.hpp"

namespace processing {

namespace {

// Space, tab, LF, VT, FF, CR.
bool is_ascii_white_space(char32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D);
}

}  // namespace

bool is_white_space(char32_t c) {
  if (is_ascii_white_space(c)) return true;
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

TextStats text_stats(std::string_view text) {
  TextStats stats;
  bool in_word = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto byte = static_cast<unsigned char>(text[pos]);
    bool space;
    if (byte < 0x80) {  // ASCII (most text): no decoding, no call
      ++pos;
      space = is_ascii_white_space(byte);
      stats.lines += byte == '\n';
    } else {
      space = is_white_space(utf8::decode_next(text, pos));
    }
    ++stats.characters;
    stats.words += !space && !in_word;
    in_word = !space;
  }
  if (!text.empty() && text.back() != '\n') ++stats.lines;
  return stats;
}

std::uint64_t count_words(std::string_view text) {
  return text_stats(text).words;
}

}  // namespace processing
