#include <doctest/doctest.h>

#include "fixtures.hpp"
#include "processing/extraction/extraction.hpp"

using processing::ExtractionLimits;
using processing::ExtractionResult;
using processing::testing::error_of;
using processing::testing::error_type_of;
using processing::testing::extract;
using processing::testing::parse_json;
using processing::testing::pdf_bytes;
using processing::testing::TempDir;

namespace {

constexpr std::string_view kInfo =
    "/Title (Quarterly Report) /Author (Jane Doe) /Subject (Numbers) /Keywords (q1 report) "
    "/Creator (hand) /Producer (unit test) /CreationDate (D:20240102030405Z) "
    "/ModDate (D:20240203040506Z)";

}  // namespace

TEST_CASE("a valid PDF: pages, text per page, metadata") {
  TempDir root;
  const ExtractionResult result =
      extract(root, "report.pdf", pdf_bytes({"Hello PDF world", "Second page text"}, kInfo));
  CHECK(result.kind == "pdf");
  CHECK(result.mime_type == "application/pdf");
  CHECK(result.pages == 2);
  CHECK(result.words == 6);
  CHECK_FALSE(result.truncated);

  const auto json = parse_json(result.json);
  CHECK(std::string(json["extractor"]["name"].GetString()) == "pdf");
  CHECK(json["pages"].GetInt64() == 2);
  CHECK(std::string(json["pdf_version"].GetString()) == "1.4");
  CHECK_FALSE(json["encrypted"].GetBool());
  REQUIRE(json["page_texts"].Size() == 2);
  CHECK(std::string(json["page_texts"][0].GetString()).find("Hello PDF world") !=
        std::string::npos);
  CHECK(std::string(json["page_texts"][1].GetString()).find("Second page text") !=
        std::string::npos);
  const auto& metadata = json["metadata"];
  CHECK(std::string(metadata["title"].GetString()) == "Quarterly Report");
  CHECK(std::string(metadata["author"].GetString()) == "Jane Doe");
  CHECK(std::string(metadata["subject"].GetString()) == "Numbers");
  CHECK(std::string(metadata["keywords"].GetString()) == "q1 report");
  CHECK(std::string(metadata["creator"].GetString()) == "hand");
  CHECK(std::string(metadata["producer"].GetString()) == "unit test");
  CHECK(std::string(metadata["creation_date"].GetString()) == "2024-01-02T03:04:05Z");
  CHECK(std::string(metadata["modification_date"].GetString()) == "2024-02-03T04:05:06Z");
}

TEST_CASE("a PDF without an Info dictionary has empty metadata") {
  TempDir root;
  const auto json = parse_json(extract(root, "bare.pdf", pdf_bytes({"Only text"}, "")).json);
  CHECK(json["metadata"].ObjectEmpty());
  CHECK(json["pages"].GetInt64() == 1);
}

TEST_CASE("PDF metadata in UTF-16 keeps non-ASCII characters, a lone surrogate becomes U+FFFD") {
  TempDir root;
  // A UTF-16BE text string (BOM first): "Cafe", a combining acute accent, a
  // no-break space, "€ " and 😀 (a surrogate pair); the author ends in a
  // lone high surrogate.
  const auto json =
      parse_json(extract(root, "utf16.pdf",
                         pdf_bytes({"Plain text"},
                                   "/Title <FEFF0043006100660065030100A020AC0020D83DDE00> "
                                   "/Author <FEFF0041D800>"))
                     .json);
  CHECK(std::string(json["metadata"]["title"].GetString()) ==
        "Cafe\xCC\x81\xC2\xA0\xE2\x82\xAC \xF0\x9F\x98\x80");
  CHECK(std::string(json["metadata"]["author"].GetString()) == "A\xEF\xBF\xBD");
}

TEST_CASE("PDF text shares one max_text_chars budget over all pages") {
  TempDir root;
  ExtractionLimits limits;
  limits.max_text_chars = 8;
  const ExtractionResult result =
      extract(root, "long.pdf", pdf_bytes({"Alpha beta gamma", "Delta epsilon"}, ""), limits);
  CHECK(result.truncated);
  CHECK(result.words == 5);
  const auto json = parse_json(result.json);
  CHECK(std::string(json["page_texts"][0].GetString()) == "Alpha be");
  CHECK(std::string(json["page_texts"][1].GetString()).empty());
}

TEST_CASE("corrupt and encrypted PDFs are permanent 'corrupt' errors") {
  TempDir root;
  SUBCASE("garbage after the header") {
    root.write("broken.pdf", "%PDF-1.4\nthis is not a pdf at all\n%%EOF\n");
    const processing::ExtractionError error =
        error_of([&] { processing::extract_file(root.path(), "broken.pdf", {}); });
    CHECK(error.error_type() == "corrupt");
    CHECK_FALSE(error.retryable());
    CHECK(std::string(error.what()).find("broken.pdf") != std::string::npos);
  }
  SUBCASE("truncated in the middle") {
    const std::string pdf = pdf_bytes({"Hello"}, std::string(kInfo));
    root.write("cut.pdf", pdf.substr(0, 40));
    const std::string type =
        error_type_of([&] { processing::extract_file(root.path(), "cut.pdf", {}); });
    CHECK(type == "corrupt");
  }
  SUBCASE("encrypted with an unknown user password") {
    const std::string o(32, 'O');
    const std::string u(32, 'U');
    const std::string encrypt =
        "<< /Filter /Standard /V 1 /R 2 /O (" + o + ") /U (" + u + ") /P -4 >>";
    // The Encrypt dictionary is the extra (last) object: 1 + 4 + 2 pages.
    const std::string pdf = pdf_bytes(
        {"Secret"}, "", "/Encrypt 7 0 R /ID [<0123456789ABCDEF> <0123456789ABCDEF>]", encrypt);
    root.write("locked.pdf", pdf);
    const processing::ExtractionError error =
        error_of([&] { processing::extract_file(root.path(), "locked.pdf", {}); });
    CHECK(error.error_type() == "corrupt");
    CHECK(std::string(error.what()).find("encrypted") != std::string::npos);
  }
}
