// Decides which extractor handles a file: libmagic's MIME type and encoding
// first, the file name's extension only as a tie-breaker (CSV / Markdown /
// JSON among text files), and for ZIP containers the entries that mark a
// DOCX (word/document.xml) or an XLSX (xl/workbook.xml). Owned by the
// document extractors.
#pragma once

#include <string>
#include <string_view>

#include "processing/extraction/magic_probe.hpp"

namespace processing {

enum class ContentKind { text, pdf, docx, xlsx, zip, other };
enum class TextFormat { plain, csv, markdown, json };

struct DetectedContent {
  ContentKind kind = ContentKind::other;
  TextFormat text_format = TextFormat::plain;  // when kind == text
  std::string mime_type;                       // the refined type reported in results
  MagicAnswer magic;                           // libmagic's raw answer
};

// `extension` is the file name's extension, e.g. ".csv" (any case).
DetectedContent detect_content(std::string_view data, std::string_view extension);

std::string_view kind_name(ContentKind kind);          // "text", "pdf", ...
std::string_view text_format_name(TextFormat format);  // "plain", "csv", ...

}  // namespace processing
