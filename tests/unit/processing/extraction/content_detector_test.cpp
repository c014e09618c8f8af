#include <doctest/doctest.h>

#include "fixtures.hpp"
#include "processing/extraction/content_detector.hpp"
#include "processing/extraction/extraction.hpp"

using processing::ContentKind;
using processing::detect_content;
using processing::TextFormat;
using processing::testing::docx_bytes;
using processing::testing::pdf_bytes;
using processing::testing::xlsx_bytes;
using processing::testing::zip_bytes;

TEST_CASE("content is detected from the bytes, not the extension") {
  CHECK(detect_content(pdf_bytes({"x"}, ""), ".txt").kind == ContentKind::pdf);
  CHECK(detect_content("just some words\n", ".pdf").kind == ContentKind::text);
  CHECK(detect_content(zip_bytes({{"a.txt", "x"}}), ".docx").kind == ContentKind::zip);
  CHECK(detect_content(docx_bytes("<w:p/>"), ".zip").kind == ContentKind::docx);
  CHECK(detect_content(xlsx_bytes({{"S", "", ""}}, {}), "").kind == ContentKind::xlsx);
  CHECK(detect_content(std::string("\x7F"
                                   "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0",
                                   16),
                       ".txt")
            .kind == ContentKind::other);
}

TEST_CASE("the extension breaks ties among text formats") {
  const std::string table = "a,b\n1,2\n";
  CHECK(detect_content(table, ".csv").text_format == TextFormat::csv);
  CHECK(detect_content(table, ".CSV").text_format == TextFormat::csv);
  CHECK(detect_content(table, ".txt").text_format == TextFormat::plain);
  CHECK(detect_content("# Title\n", ".md").text_format == TextFormat::markdown);
  CHECK(detect_content("# Title\n", ".markdown").mime_type == "text/markdown");
  CHECK(detect_content("{\"a\":1}", ".json").text_format == TextFormat::json);
}

TEST_CASE("a ZIP holding both OOXML main parts follows its extension") {
  const std::string both =
      zip_bytes({{"word/document.xml", processing::testing::docx_document_xml("")},
                 {"xl/workbook.xml", "<workbook/>"}});
  CHECK(detect_content(both, ".xlsx").kind == ContentKind::xlsx);
  CHECK(detect_content(both, ".docx").kind == ContentKind::docx);
}
