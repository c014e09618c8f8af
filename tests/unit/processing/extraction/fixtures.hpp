// Test fixtures for the document extractors, generated at run time: a
// temporary storage root, files in it, ZIP/DOCX/XLSX packages written with
// libzip from XML strings, and a hand-made PDF with computed xref offsets.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "processing/extraction/extraction.hpp"

namespace processing::testing {

// A fresh directory under the system temp dir, removed with its content.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to path()/relative (parents created); returns the path.
  std::filesystem::path write(std::string_view relative, std::string_view content) const;

 private:
  std::filesystem::path path_;
};

using ZipMember = std::pair<std::string, std::string>;  // name, content

// A ZIP archive (deflate) holding `members` in order.
std::string zip_bytes(const std::vector<ZipMember>& members);

// A DOCX package whose word/document.xml body is `body_xml`, plus extras.
std::string docx_bytes(std::string_view body_xml, const std::vector<ZipMember>& extras = {});
std::string docx_document_xml(std::string_view body_xml);
// A DOCX body with runs, an empty paragraph and a table: 4 paragraphs, 3 of
// them with text, 7 words.
inline constexpr std::string_view kDocxBody =
    "<w:p><w:r><w:t>Hello world</w:t></w:r></w:p>"
    "<w:p><w:r><w:t xml:space=\"preserve\">Second </w:t></w:r><w:r><w:t>paragraph "
    "here</w:t></w:r></w:p>"
    "<w:p/>"
    "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Cell</w:t><w:tab/><w:t>text</w:t></w:r></w:p></w:tc>"
    "</w:tr></w:tbl>";

// An XLSX package with the given sheets (name, sheet XML) and shared strings.
struct XlsxSheet {
  std::string name;
  std::string sheet_data_xml;  // the content of <sheetData>
  std::string dimension;       // "" for none
};
std::string xlsx_bytes(const std::vector<XlsxSheet>& sheets,
                       const std::vector<std::string>& shared_strings);

// A PDF with one page per text, an Info dictionary when `info` is non-empty
// (e.g. "/Title (T) /Author (A)"), and optionally an extra trailer entry.
std::string pdf_bytes(const std::vector<std::string>& page_texts, std::string_view info,
                      std::string_view extra_trailer = "", std::string_view extra_object = "");

// Sets the declared uncompressed size of every entry (local and central
// headers) of a ZIP to `declared`, leaving the data as it is: a lying header.
std::string with_declared_sizes(std::string zip, std::uint32_t declared);

// Parses an extraction's JSON; fails the test (throws) when it is invalid.
rapidjson::Document parse_json(const std::string& json);

// The error_type thrown by `action`, or "no error".
std::string error_type_of(const std::function<void()>& action);
// The ExtractionError thrown by `action`; fails the test when none is thrown.
ExtractionError error_of(const std::function<void()>& action);

// Writes `content` as `name` under `root` and extracts it.
ExtractionResult extract(const TempDir& root, std::string_view name, std::string_view content,
                         const ExtractionLimits& limits = {});
// The same, for a file that must fail: its error_type.
std::string extract_error(const TempDir& root, std::string_view name, std::string_view content,
                          const ExtractionLimits& limits = {});
// A JSON string value's text (fails the test for any other value).
std::string text(const rapidjson::Value& value);

}  // namespace processing::testing
