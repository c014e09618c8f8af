#include <doctest/doctest.h>

#include <string>

#include "fixtures.hpp"
#include "processing/extraction/extraction.hpp"

using processing::ExtractionLimits;
using processing::ExtractionResult;
using processing::testing::docx_bytes;
using processing::testing::error_of;
using processing::testing::error_type_of;
using processing::testing::extract;
using processing::testing::extract_error;
using processing::testing::kDocxBody;
using processing::testing::parse_json;
using processing::testing::TempDir;
using processing::testing::text;
using processing::testing::xlsx_bytes;
using processing::testing::XlsxSheet;
using processing::testing::zip_bytes;

namespace {

std::vector<XlsxSheet> sample_sheets() {
  return {
      {"People",
       "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c></row>"
       "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>2</v></c><c r=\"B2\"><v>41</v></c></row>"
       "<row r=\"3\"><c r=\"A3\" t=\"inlineStr\"><is><t>Bob</t></is></c><c r=\"C3\" "
       "t=\"b\"><v>1</v></c></row>",
       "A1:C3"},
      {"Empty", "", ""},
  };
}

}  // namespace

TEST_CASE("DOCX: paragraphs, paragraph count and words") {
  TempDir root;
  const ExtractionResult result = extract(root, "letter.docx", docx_bytes(kDocxBody));
  CHECK(result.kind == "docx");
  CHECK(result.mime_type ==
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  CHECK(result.words == 7);
  CHECK_FALSE(result.truncated);
  const auto json = parse_json(result.json);
  CHECK(text(json["extractor"]["name"]) == "docx");
  CHECK(json["paragraph_count"].GetUint64() == 4);
  REQUIRE(json["paragraphs"].Size() == 3);
  CHECK(text(json["paragraphs"][0]) == "Hello world");
  CHECK(text(json["paragraphs"][1]) == "Second paragraph here");
  CHECK(text(json["paragraphs"][2]) == "Cell\ttext");
}

TEST_CASE("DOCX detection does not depend on the extension") {
  TempDir root;
  CHECK(extract(root, "renamed.zip", docx_bytes(kDocxBody)).kind == "docx");
  CHECK(extract(root, "noext", docx_bytes(kDocxBody)).kind == "docx");
}

TEST_CASE("DOCX text is capped by max_text_chars") {
  TempDir root;
  ExtractionLimits limits;
  limits.max_text_chars = 13;
  const ExtractionResult result = extract(root, "letter.docx", docx_bytes(kDocxBody), limits);
  CHECK(result.truncated);
  CHECK(result.words == 7);
  const auto json = parse_json(result.json);
  REQUIRE(json["paragraphs"].Size() == 2);
  CHECK(text(json["paragraphs"][0]) == "Hello world");
  CHECK(text(json["paragraphs"][1]) == "Se");
}

TEST_CASE("deeply nested XML neither crashes nor recurses") {
  TempDir root;
  std::string nested;
  for (int i = 0; i < 200000; ++i) nested += "<w:sdt>";
  nested += "<w:p><w:r><w:t>deep</w:t></w:r></w:p>";
  for (int i = 0; i < 200000; ++i) nested += "</w:sdt>";
  root.write("deep.docx", docx_bytes(nested));
  ExtractionLimits limits;
  limits.max_compression_ratio = 100000;  // the repetition compresses extremely well
  const ExtractionResult result = processing::extract_file(root.path(), "deep.docx", limits);
  CHECK(result.words == 1);
  const auto json = parse_json(result.json);
  CHECK(std::string(json["paragraphs"][0].GetString()) == "deep");
}

TEST_CASE("a DOCX with broken XML is corrupt") {
  TempDir root;
  const std::string broken = zip_bytes({{"word/document.xml", "<w:document><w:body><w:p>"}});
  const processing::ExtractionError error = error_of([&] {
    root.write("broken.docx", broken);
    processing::extract_file(root.path(), "broken.docx", {});
  });
  CHECK(error.error_type() == "corrupt");
  CHECK(std::string(error.what()).find("word/document.xml") != std::string::npos);
}

TEST_CASE("XLSX: sheets, dimensions, counts and previews with shared strings") {
  TempDir root;
  const ExtractionResult result =
      extract(root, "book.xlsx", xlsx_bytes(sample_sheets(), {"Name", "Age", "Alice"}));
  CHECK(result.kind == "xlsx");
  CHECK(result.mime_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  CHECK(result.words == 6);
  const auto json = parse_json(result.json);
  CHECK(text(json["extractor"]["name"]) == "xlsx");
  CHECK(json["sheet_count"].GetUint64() == 2);
  CHECK(json["shared_strings"].GetUint64() == 3);
  const auto& people = json["sheets"][0];
  CHECK(text(people["name"]) == "People");
  CHECK(text(people["dimension"]) == "A1:C3");
  CHECK(people["rows"].GetUint64() == 3);
  CHECK(people["columns"].GetUint64() == 3);
  const auto& preview = people["preview"];
  REQUIRE(preview.Size() == 3);
  CHECK(text(preview[0][0]) == "Name");
  CHECK(text(preview[0][1]) == "Age");
  CHECK(text(preview[1][0]) == "Alice");
  CHECK(text(preview[1][1]) == "41");
  REQUIRE(preview[2].Size() == 3);
  CHECK(text(preview[2][0]) == "Bob");
  CHECK(text(preview[2][1]).empty());
  CHECK(text(preview[2][2]) == "TRUE");
  const auto& empty = json["sheets"][1];
  CHECK(text(empty["name"]) == "Empty");
  CHECK(empty["rows"].GetUint64() == 0);
  CHECK(empty["preview"].Size() == 0);
}

TEST_CASE("XLSX previews stop at max_preview_rows but counts cover every row") {
  TempDir root;
  std::string rows;
  for (int r = 1; r <= 30; ++r) {
    rows += "<row r=\"" + std::to_string(r) + "\"><c r=\"A" + std::to_string(r) + "\"><v>" +
            std::to_string(r) + "</v></c></row>";
  }
  ExtractionLimits limits;
  limits.max_preview_rows = 5;
  const auto json =
      parse_json(extract(root, "rows.xlsx", xlsx_bytes({{"S", rows, "A1:A30"}}, {}), limits).json);
  CHECK(json["sheets"][0]["rows"].GetUint64() == 30);
  CHECK(json["sheets"][0]["preview"].Size() == 5);
  CHECK(json["words"].GetInt64() == 30);
}

TEST_CASE("an XLSX without its workbook part is a plain ZIP, a missing sheet is corrupt") {
  TempDir root;
  CHECK(extract(root, "fake.xlsx", zip_bytes({{"xl/other.xml", "<x/>"}})).kind == "zip");
  const std::string no_sheet = zip_bytes({{"xl/workbook.xml",
                                           "<workbook><sheets><sheet name=\"Gone\" sheetId=\"1\" "
                                           "r:id=\"rId9\"/></sheets></workbook>"}});
  CHECK(extract_error(root, "nosheet.xlsx", no_sheet) == "corrupt");
}
