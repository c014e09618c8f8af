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
using processing::testing::with_declared_sizes;
using processing::testing::zip_bytes;
using processing::testing::ZipMember;

namespace {

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

}  // namespace

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
