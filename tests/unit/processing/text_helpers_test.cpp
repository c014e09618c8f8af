#include <doctest/doctest.h>

#include "processing/extraction/storage/file_digest.hpp"
#include "processing/extraction/text/csv_shape.hpp"
#include "processing/extraction/text/text_encoding.hpp"
#include "processing/extraction/text/text_stats.hpp"
#include "processing/extraction/text_budget.hpp"
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

TEST_CASE("text budgets spend characters across pieces") {
  processing::TextBudget budget(5);
  CHECK(budget.take("abc") == "abc");
  CHECK_FALSE(budget.truncated());
  CHECK(budget.take("d\xC3\xA9"
                    "f") == "d\xC3\xA9");
  CHECK(budget.truncated());
  CHECK(budget.exhausted());
  CHECK(budget.take("more").empty());
}

TEST_CASE("text statistics count characters, lines and words") {
  const processing::TextStats stats = processing::text_stats(
      "one two\n\tthree\xC2\xA0"
      "four\n");
  CHECK(stats.characters == 20);
  CHECK(stats.lines == 2);
  CHECK(stats.words == 4);
  CHECK(processing::text_stats("").lines == 0);
  CHECK(processing::text_stats("no newline").lines == 1);
  CHECK(processing::count_words("  ") == 0);
  CHECK(processing::count_words("a\xE3\x80\x80"
                                "b") == 2);  // ideographic space
}

TEST_CASE("UTF-16 without BOM is decoded when libmagic says so") {
  const std::string big_endian("\0H\0i", 4);
  const processing::DecodedText decoded = processing::decode_text(big_endian, "utf-16be");
  CHECK(decoded.utf8 == "Hi");
  CHECK(decoded.encoding == "utf-16be");
  CHECK_FALSE(decoded.had_bom);
  // An odd trailing byte and a lone surrogate become U+FFFD.
  CHECK(processing::decode_text(std::string("\xFF\xFE"
                                            "A\0\x00\xD8"
                                            "B",
                                            7),
                                "")
            .utf8 == "A\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("CSV shape guessing") {
  const processing::Deadline deadline(std::chrono::seconds(10), "x.csv");
  const processing::CsvShape pipes = processing::guess_csv_shape("a|b\n1|2\n3|4", deadline);
  CHECK(pipes.delimiter == '|');
  CHECK(pipes.rows == 3);
  CHECK(pipes.columns == 2);
  const processing::CsvShape single = processing::guess_csv_shape("only\none\n", deadline);
  CHECK(single.columns == 1);
  CHECK(single.rows == 2);
  const processing::CsvShape quoted =
      processing::guess_csv_shape("\"a \"\"q\"\" b\",c\n", deadline);
  REQUIRE(quoted.header.size() == 2);
  CHECK(quoted.header[0] == "a \"q\" b");
}

TEST_CASE("SHA-256 of known inputs") {
  CHECK(processing::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(processing::sha256_hex("") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
