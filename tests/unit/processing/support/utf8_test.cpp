#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "processing/support/utf8.hpp"

namespace utf8 = processing::utf8;

TEST_CASE("UTF-8 validation rejects overlongs, surrogates and truncation") {
  CHECK(utf8::is_valid("plain"));
  CHECK(utf8::is_valid("h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  CHECK_FALSE(utf8::is_valid("\xC0\xAF"));          // overlong '/'
  CHECK_FALSE(utf8::is_valid("\xED\xA0\x80"));      // surrogate
  CHECK_FALSE(utf8::is_valid("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(utf8::is_valid("\xE2\x82"));          // truncated
  CHECK_FALSE(utf8::is_valid("\x80"));
  CHECK(utf8::sanitize("a\xFF"
                       "b\xE2\x82") ==
        "a\xEF\xBF\xBD"
        "b\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("UTF-8 prefixes never split a character") {
  const std::string text = "h\xC3\xA9\xF0\x9F\x98\x80!";  // h é 😀 !
  CHECK(utf8::count_characters(text) == 4);
  CHECK(utf8::prefix_bytes(text, 0) == 0);
  CHECK(utf8::prefix_bytes(text, 1) == 1);
  CHECK(utf8::prefix_bytes(text, 2) == 3);
  CHECK(utf8::prefix_bytes(text, 3) == 7);
  CHECK(utf8::prefix_bytes(text, 10) == text.size());
  std::string out;
  utf8::append(out, 0x1F600);
  utf8::append(out, 0xD800);
  CHECK(out == "\xF0\x9F\x98\x80\xEF\xBF\xBD");
}

TEST_CASE("UTF-8 validation finds a bad byte after a long ASCII run") {
  // The ASCII fast path reads eight bytes at a time: bad bytes at every
  // offset of a word, and at the tail after the last whole word.
  for (std::size_t at = 0; at < 20; ++at) {
    std::string text(20, 'x');
    text[at] = '\xFF';
    CHECK_FALSE(utf8::is_valid(text));
    text[at] = '\xC3';
    CHECK_FALSE(utf8::is_valid(text));  // a lead byte followed by ASCII
  }
  CHECK(utf8::is_valid(std::string(17, 'x') + "\xC3\xA9" + std::string(9, 'y')));
}

TEST_CASE("UTF-16 becomes valid UTF-8, lone surrogates U+FFFD") {
  const std::uint16_t text[] = {'h', 0xE9, 0x20AC, 0xD83D, 0xDE00, '!'};
  CHECK(utf8::from_utf16(text, 6) == "h\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80!");
  const std::uint16_t lone[] = {0xD800, 'a', 0xDC00, 0xD83D};  // high, low, high at the end
  CHECK(utf8::from_utf16(lone, 4) ==
        "\xEF\xBF\xBD"
        "a\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(utf8::from_utf16(text, 0).empty());
}
