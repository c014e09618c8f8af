#include "processing/extraction/content_detector.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "processing/extraction/archive/zip_archive.hpp"
#include "processing/extraction/extraction.hpp"

namespace processing {
namespace {

constexpr std::string_view kDocxMime =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
constexpr std::string_view kXlsxMime =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_one_of(std::string_view value, std::initializer_list<std::string_view> candidates) {
  return std::find(candidates.begin(), candidates.end(), value) != candidates.end();
}

bool looks_like_zip_container(const MagicAnswer& magic) {
  return is_one_of(magic.mime_type, {"application/zip", "application/x-zip-compressed",
                                     "application/java-archive", kDocxMime, kXlsxMime}) ||
         magic.mime_type.starts_with("application/vnd.openxmlformats-officedocument.");
}

bool looks_like_text(const MagicAnswer& magic) {
  if (magic.mime_type.starts_with("text/")) return true;
  if (is_one_of(magic.mime_type, {"application/json", "application/csv", "application/x-ndjson"}))
    return true;
  // libmagic reports UTF-16 text without a known type as octet-stream at times.
  return is_one_of(magic.encoding, {"utf-16le", "utf-16be"});
}

// Which OOXML package a ZIP is, by its entries; the extension breaks a tie
// (an archive holding both marker entries).
ContentKind zip_container_kind(std::string_view data, std::string_view extension) {
  try {
    const ZipArchive archive(data, "");
    const bool word = archive.find("word/document.xml").has_value();
    const bool excel = archive.find("xl/workbook.xml").has_value();
    if (word && excel) return extension == ".xlsx" ? ContentKind::xlsx : ContentKind::docx;
    if (word) return ContentKind::docx;
    if (excel) return ContentKind::xlsx;
  } catch (const ExtractionError&) {
    // Unreadable: the ZIP extractor reports it as corrupt.
  }
  return ContentKind::zip;
}

TextFormat text_format(const MagicAnswer& magic, std::string_view extension) {
  if (magic.mime_type == "application/json" || extension == ".json") return TextFormat::json;
  if (is_one_of(magic.mime_type, {"text/csv", "application/csv"}) ||
      is_one_of(extension, {".csv", ".tsv"}))
    return TextFormat::csv;
  if (magic.mime_type == "text/markdown" || is_one_of(extension, {".md", ".markdown"}))
    return TextFormat::markdown;
  return TextFormat::plain;
}

std::string text_mime_type(TextFormat format, const MagicAnswer& magic) {
  switch (format) {
    case TextFormat::json:
      return "application/json";
    case TextFormat::csv:
      return "text/csv";
    case TextFormat::markdown:
      return "text/markdown";
    case TextFormat::plain:
      break;
  }
  return magic.mime_type.starts_with("text/") ? magic.mime_type : "text/plain";
}

}  // namespace

std::string_view kind_name(ContentKind kind) {
  switch (kind) {
    case ContentKind::text:
      return "text";
    case ContentKind::pdf:
      return "pdf";
    case ContentKind::docx:
      return "docx";
    case ContentKind::xlsx:
      return "xlsx";
    case ContentKind::zip:
      return "zip";
    case ContentKind::other:
      return "other";
  }
  return "other";
}

std::string_view text_format_name(TextFormat format) {
  switch (format) {
    case TextFormat::plain:
      return "plain";
    case TextFormat::csv:
      return "csv";
    case TextFormat::markdown:
      return "markdown";
    case TextFormat::json:
      return "json";
  }
  return "plain";
}

DetectedContent detect_content(std::string_view data, std::string_view raw_extension) {
  const std::string extension = lowercase(raw_extension);
  DetectedContent content;
  content.magic = probe_magic(data);
  content.mime_type = content.magic.mime_type;
  if (content.magic.mime_type == "application/pdf") {
    content.kind = ContentKind::pdf;
  } else if (looks_like_zip_container(content.magic)) {
    content.kind = zip_container_kind(data, extension);
    if (content.kind == ContentKind::docx) content.mime_type = kDocxMime;
    if (content.kind == ContentKind::xlsx) content.mime_type = kXlsxMime;
    if (content.kind == ContentKind::zip && content.mime_type.starts_with("application/vnd.")) {
      content.mime_type = "application/zip";  // an OOXML type without its main part
    }
  } else if (looks_like_text(content.magic)) {
    content.kind = ContentKind::text;
    content.text_format = text_format(content.magic, extension);
    content.mime_type = text_mime_type(content.text_format, content.magic);
  }
  return content;
}

}  // namespace processing
