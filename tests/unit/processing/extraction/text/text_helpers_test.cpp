#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "processing/extraction/deadline.hpp"
#include "processing/extraction/text/csv_shape.hpp"
#include "processing/extraction/text/text_encoding.hpp"
#include "processing/extraction/text/text_stats.hpp"

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
  // Every ASCII white space byte separates words; a non-ASCII letter does not.
  CHECK(processing::count_words("a\tb\nc\vd\fe\rf g") == 7);
  CHECK(processing::count_words("caf\xC3\xA9s na\xC3\xAFve") == 2);
  CHECK(processing::text_stats("caf\xC3\xA9s").characters == 5);
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
