#include <doctest/doctest.h>

#include <string>

#include "fixtures.hpp"
#include "processing/extraction/extraction.hpp"
#include "processing/extraction/storage/file_digest.hpp"

using processing::ExtractionLimits;
using processing::ExtractionResult;
using processing::testing::error_type_of;
using processing::testing::extract;
using processing::testing::parse_json;
using processing::testing::TempDir;

namespace {

std::string string_field(const rapidjson::Value& object, const char* name) {
  REQUIRE(object.HasMember(name));
  REQUIRE(object[name].IsString());
  return object[name].GetString();
}

}  // namespace

TEST_CASE("plain UTF-8 text: counts, text, common fields") {
  TempDir root;
  const std::string content = "Hello wörld\nsecond line here\n";
  const ExtractionResult result = extract(root, "notes.txt", content);
  CHECK(result.kind == "text");
  CHECK(result.mime_type == "text/plain");
  CHECK(result.size_bytes == content.size());
  CHECK(result.sha256 == processing::sha256_hex(content));
  CHECK(result.words == 5);
  CHECK(result.pages == 0);
  CHECK_FALSE(result.truncated);

  const auto json = parse_json(result.json);
  CHECK(string_field(json, "kind") == "text");
  CHECK(string_field(json, "format") == "plain");
  CHECK(string_field(json, "encoding") == "utf-8");
  CHECK(string_field(json, "text") == content);
  CHECK(string_field(json, "sha256") == result.sha256);
  CHECK(string_field(json, "mime_type") == "text/plain");
  CHECK(json["size_bytes"].GetUint64() == content.size());
  CHECK(json["lines"].GetUint64() == 2);
  CHECK(json["characters"].GetUint64() == 29);
  CHECK(json["words"].GetInt64() == 5);
  CHECK(json["truncated"].GetBool() == false);
  CHECK(string_field(json["extractor"], "name") == "text");
  CHECK(string_field(json["extractor"], "version") == "1.0.0");
  CHECK(string_field(json["magic"], "encoding") == "utf-8");
}

TEST_CASE("text encodings are detected and converted to UTF-8") {
  TempDir root;
  SUBCASE("UTF-8 with BOM") {
    const auto json = parse_json(extract(root, "bom.txt",
                                         "\xEF\xBB\xBF"
                                         "caf\xC3\xA9 au lait")
                                     .json);
    CHECK(string_field(json, "encoding") == "utf-8");
    CHECK(json["bom"].GetBool());
    CHECK(string_field(json, "text") == "café au lait");
  }
  SUBCASE("UTF-16LE with BOM, including a surrogate pair") {
    // "Grüße 😀 ok" in UTF-16LE.
    const std::string utf16(
        "\xFF\xFE"
        "G\0r\0\xFC\0\xDF\0"
        "e\0 \0\x3D\xD8\x00\xDE \0o\0k\0",
        24);
    const ExtractionResult result = extract(root, "utf16.txt", utf16);
    const auto json = parse_json(result.json);
    CHECK(result.kind == "text");
    CHECK(string_field(json, "encoding") == "utf-16le");
    CHECK(string_field(json, "text") == "Grüße 😀 ok");
    CHECK(result.words == 3);
  }
  SUBCASE("Latin-1") {
    const auto json = parse_json(extract(root, "latin1.txt",
                                         "Ol\xE9 se\xF1or, \xE7"
                                         "a va\n")
                                     .json);
    CHECK(string_field(json, "encoding") == "iso-8859-1");
    CHECK(string_field(json, "text") == "Olé señor, ça va\n");
  }
  SUBCASE("Windows-1252 punctuation") {
    const auto json =
        parse_json(extract(root, "cp1252.txt", "\x93quoted\x94 \x80 5 and more text\n").json);
    CHECK(string_field(json, "encoding") == "windows-1252");
    CHECK(string_field(json, "text") == "“quoted” € 5 and more text\n");
  }
  SUBCASE("plain ASCII") {
    const auto json = parse_json(extract(root, "ascii.txt", "just ascii\n").json);
    CHECK(string_field(json, "encoding") == "us-ascii");
  }
}

TEST_CASE("CSV: delimiter, rows, columns and header") {
  TempDir root;
  SUBCASE("comma with quoted fields and an embedded newline") {
    const ExtractionResult result =
        extract(root, "people.csv", "name,age,city\n\"Doe, Jane\",41,\"New\nYork\"\nBob,7,Oslo\n");
    CHECK(result.kind == "text");
    CHECK(result.mime_type == "text/csv");
    const auto json = parse_json(result.json);
    CHECK(string_field(json, "format") == "csv");
    const auto& csv = json["csv"];
    CHECK(string_field(csv, "delimiter") == ",");
    CHECK(csv["rows"].GetUint64() == 3);
    CHECK(csv["columns"].GetUint64() == 3);
    CHECK(csv["consistent_columns"].GetBool());
    REQUIRE(csv["header"].Size() == 3);
    CHECK(std::string(csv["header"][2].GetString()) == "city");
  }
  SUBCASE("semicolon, CRLF, ragged rows") {
    const auto json = parse_json(extract(root, "data.csv", "a;b;c\r\n1;2;3\r\n4;5\r\n").json);
    const auto& csv = json["csv"];
    CHECK(string_field(csv, "delimiter") == ";");
    CHECK(csv["rows"].GetUint64() == 3);
    CHECK(csv["columns"].GetUint64() == 3);
    CHECK_FALSE(csv["consistent_columns"].GetBool());
  }
  SUBCASE("tab separated") {
    const auto json = parse_json(extract(root, "data.tsv", "x\ty\n1\t2\n").json);
    CHECK(string_field(json["csv"], "delimiter") == "\t");
  }
}

TEST_CASE("Markdown is text with its headings counted") {
  TempDir root;
  const ExtractionResult result = extract(
      root, "README.md", "# Title\n\nSome *text* here.\n\n## Part\n#hashtag\n####### too deep\n");
  CHECK(result.kind == "text");
  CHECK(result.mime_type == "text/markdown");
  const auto json = parse_json(result.json);
  CHECK(string_field(json, "format") == "markdown");
  CHECK(json["markdown"]["headings"].GetUint64() == 2);
}

TEST_CASE("JSON files report whether they parse") {
  TempDir root;
  SUBCASE("valid") {
    const ExtractionResult result = extract(root, "data.json", "{\"a\": [1, 2, {\"b\": null}]}\n");
    CHECK(result.mime_type == "application/json");
    const auto json = parse_json(result.json);
    CHECK(string_field(json, "format") == "json");
    CHECK(json["json"]["valid"].GetBool());
    CHECK(string_field(json["json"], "root_type") == "object");
  }
  SUBCASE("invalid") {
    const auto json = parse_json(extract(root, "broken.json", "{\"a\": [1, 2,,]}").json);
    CHECK_FALSE(json["json"]["valid"].GetBool());
    CHECK(json["json"]["error_offset"].GetUint64() == 12);
    CHECK_FALSE(string_field(json["json"], "error").empty());
  }
  SUBCASE("deep nesting does not exhaust the stack") {
    const std::string deep = std::string(200000, '[') + std::string(200000, ']');
    const auto json = parse_json(extract(root, "deep.json", deep).json);
    CHECK(json["json"]["valid"].GetBool());
    CHECK(string_field(json["json"], "root_type") == "array");
  }
}

TEST_CASE("stored text is capped at max_text_chars on a character boundary") {
  TempDir root;
  ExtractionLimits limits;
  limits.max_text_chars = 4;
  const ExtractionResult result =
      extract(root, "long.txt", "h\xC3\xA9llo w\xC3\xB6rld, more words\n", limits);
  CHECK(result.truncated);
  CHECK(result.words == 4);  // counted over the whole text
  const auto json = parse_json(result.json);
  CHECK(string_field(json, "text") == "héll");
  CHECK(json["truncated"].GetBool());

  limits.max_text_chars = 100;
  CHECK_FALSE(extract(root, "short.txt", "short text\n", limits).truncated);
}

TEST_CASE("an empty file is described by metadata only") {
  TempDir root;
  const ExtractionResult result = extract(root, "empty.txt", "");
  CHECK(result.kind == "other");
  CHECK(result.size_bytes == 0);
  CHECK(result.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const auto json = parse_json(result.json);
  CHECK(string_field(json["extractor"], "name") == "metadata");
}

TEST_CASE("binary content is 'other' whatever its extension says") {
  TempDir root;
  std::string binary;
  for (int i = 0; i < 4096; ++i) binary += static_cast<char>((i * 7919) % 256);
  const ExtractionResult result = extract(root, "fake.txt", binary);
  CHECK(result.kind == "other");
  CHECK(result.words == 0);
}

TEST_CASE("files above max_file_bytes are refused as too_large") {
  TempDir root;
  ExtractionLimits limits;
  limits.max_file_bytes = 10;
  root.write("big.txt", "01234567890");
  root.write("fits.txt", "0123456789");
  CHECK(error_type_of([&] { processing::extract_file(root.path(), "big.txt", limits); }) ==
        "too_large");
  CHECK(processing::extract_file(root.path(), "fits.txt", limits).size_bytes == 10);
}

TEST_CASE("an expired time limit is a timeout") {
  TempDir root;
  root.write("a.txt", "hello");
  ExtractionLimits limits;
  limits.time_limit = std::chrono::milliseconds(0);
  CHECK(error_type_of([&] { processing::extract_file(root.path(), "a.txt", limits); }) ==
        "timeout");
}
