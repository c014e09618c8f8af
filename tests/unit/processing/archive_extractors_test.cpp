#include <doctest/doctest.h>

#include <string>

#include "fixtures.hpp"
#include "processing/extraction/extraction.hpp"

using processing::ExtractionLimits;
using processing::ExtractionResult;
using processing::testing::docx_bytes;
using processing::testing::error_of;
using processing::testing::error_type_of;
using processing::testing::parse_json;
using processing::testing::TempDir;
using processing::testing::with_declared_sizes;
using processing::testing::xlsx_bytes;
using processing::testing::XlsxSheet;
using processing::testing::zip_bytes;
using processing::testing::ZipMember;

namespace {

ExtractionResult extract(const TempDir& root, std::string_view name, std::string_view content,
                         const ExtractionLimits& limits = {}) {
  root.write(name, content);
  return processing::extract_file(root.path(), name, limits);
}

std::string extract_error(const TempDir& root, std::string_view name, std::string_view content,
                          const ExtractionLimits& limits = {}) {
  root.write(name, content);
  return error_type_of([&] { processing::extract_file(root.path(), name, limits); });
}

std::string text(const rapidjson::Value& value) {
  REQUIRE(value.IsString());
  return value.GetString();
}

// Content that deflate cannot shrink (a simple LCG), so ratios stay near 1.
std::string incompressible(std::size_t size) {
  std::string bytes(size, '\0');
  std::uint32_t state = 12345;
  for (char& byte : bytes) {
    state = state * 1103515245u + 12345u;
    byte = static_cast<char>(state >> 24);
  }
  return bytes;
}

constexpr std::string_view kDocxBody =
    "<w:p><w:r><w:t>Hello world</w:t></w:r></w:p>"
    "<w:p><w:r><w:t xml:space=\"preserve\">Second </w:t></w:r><w:r><w:t>paragraph "
    "here</w:t></w:r></w:p>"
    "<w:p/>"
    "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Cell</w:t><w:tab/><w:t>text</w:t></w:r></w:p></w:tc>"
    "</w:tr></w:tbl>";

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

TEST_CASE("ZIP: entry listing with sizes, count and totals") {
  TempDir root;
  const std::string big(10000, 'a');
  const ExtractionResult result =
      extract(root, "bundle.zip", zip_bytes({{"a.txt", "hello"}, {"dir/b.txt", big}}));
  CHECK(result.kind == "zip");
  CHECK(result.mime_type == "application/zip");
  const auto json = parse_json(result.json);
  CHECK(text(json["extractor"]["name"]) == "zip");
  CHECK(json["entry_count"].GetUint64() == 2);
  CHECK(json["total_size"].GetUint64() == 10005);
  const auto& entries = json["entries"];
  REQUIRE(entries.Size() == 2);
  CHECK(text(entries[1]["name"]) == "dir/b.txt");
  CHECK(entries[1]["size"].GetUint64() == 10000);
  CHECK(entries[1]["compressed_size"].GetUint64() < 10000);
  CHECK(json["total_compressed_size"].GetUint64() ==
        entries[0]["compressed_size"].GetUint64() + entries[1]["compressed_size"].GetUint64());
}

TEST_CASE("ZIP entry names are capped in the listing") {
  TempDir root;
  const std::string long_name(3000, 'n');
  const auto json = parse_json(extract(root, "names.zip", zip_bytes({{long_name, "x"}})).json);
  CHECK(text(json["entries"][0]["name"]) == std::string(1024, 'n'));
}

TEST_CASE("zip bombs are stopped with archive_limits") {
  TempDir root;
  ExtractionLimits limits;
  SUBCASE("a highly compressible large entry (declared ratio)") {
    const std::string zeros(20u << 20, '\0');
    CHECK(extract_error(root, "bomb.zip", zip_bytes({{"zeros.bin", zeros}}), limits) ==
          "archive_limits");
    CHECK(extract_error(root, "bomb.docx", docx_bytes("<w:p/>", {{"word/media/z.bin", zeros}}),
                        limits) == "archive_limits");
  }
  SUBCASE("too many entries") {
    std::vector<ZipMember> members;
    for (int i = 0; i < 51; ++i) members.push_back({"f" + std::to_string(i) + ".txt", "x"});
    limits.max_archive_entries = 50;
    const processing::ExtractionError error = error_of([&] {
      root.write("many.zip", zip_bytes(members));
      processing::extract_file(root.path(), "many.zip", limits);
    });
    CHECK(error.error_type() == "archive_limits");
    CHECK(std::string(error.what()).find("51 entries") != std::string::npos);
    members.pop_back();
    CHECK(extract(root, "fifty.zip", zip_bytes(members), limits).kind == "zip");
  }
  SUBCASE("too many uncompressed bytes in total") {
    limits.max_uncompressed_bytes = 1u << 20;
    const std::string chunk = incompressible(600u << 10);
    CHECK(extract_error(root, "total.zip", zip_bytes({{"a.bin", chunk}, {"b.bin", chunk}}),
                        limits) == "archive_limits");
    CHECK(extract(root, "one.zip", zip_bytes({{"a.bin", chunk}}), limits).kind == "zip");
  }
  SUBCASE("headers that lie about the size are caught while inflating") {
    // 4 MiB of document.xml declared as 1000 bytes: the declared ratio looks
    // harmless, the inflated byte count does not.
    const std::string padding(4u << 20, ' ');
    const std::string docx = docx_bytes("<w:p><w:r><w:t>x</w:t></w:r></w:p>" + padding);
    const std::string lying = with_declared_sizes(docx, 1000);
    const processing::ExtractionError error = error_of([&] {
      root.write("lying.docx", lying);
      processing::extract_file(root.path(), "lying.docx", limits);
    });
    CHECK(error.error_type() == "archive_limits");
    CHECK(std::string(error.what()).find("declared size") != std::string::npos);
  }
}

TEST_CASE("a damaged ZIP is corrupt") {
  TempDir root;
  const std::string zip = zip_bytes({{"a.txt", "hello hello hello"}});
  CHECK(extract_error(root, "cut.zip", zip.substr(0, zip.size() - 10)) == "corrupt");
  std::string docx = docx_bytes(kDocxBody);
  // Flip bytes in the middle of the compressed document part.
  const std::size_t middle = docx.find("word/document.xml") + 40;
  for (std::size_t i = middle; i < middle + 20; ++i) docx[i] = static_cast<char>(~docx[i]);
  CHECK(extract_error(root, "flipped.docx", docx) == "corrupt");
}
