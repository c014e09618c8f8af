#include "processing/extraction/pdf/pdf_extractor.hpp"

#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page.h>
#include <poppler/cpp/poppler-version.h>

#include <ctime>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "processing/extraction/extraction_errors.hpp"
#include "processing/extraction/text/text_stats.hpp"
#include "processing/extraction/text_budget.hpp"
#include "processing/support/utf8.hpp"

namespace processing {
namespace {

// Poppler reports syntax problems of hostile files on stderr; stay quiet.
void silence_poppler() {
  static std::once_flag once;
  std::call_once(
      once, [] { poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr); });
}

// poppler-cpp's text is UTF-16; converted here rather than with
// ustring::to_utf8() (iconv, then a validity pass over its output), which
// cost ~3 % of a text-heavy page's extraction.
std::string utf8_of(const poppler::ustring& text) {
  static_assert(std::is_same_v<poppler::ustring::value_type, std::uint16_t>);
  return utf8::from_utf16(text.data(), text.size());
}

std::unique_ptr<poppler::document> open_pdf(const ExtractionInput& input) {
  if (input.data.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw extraction_error(ErrorKind::too_large, input.relative_path,
                           "the PDF is too large for the PDF reader");
  }
  std::unique_ptr<poppler::document> document(poppler::document::load_from_raw_data(
      input.data.data(), static_cast<int>(input.data.size())));
  if (!document) {
    throw extraction_error(ErrorKind::corrupt, input.relative_path,
                           "the PDF is damaged or unreadable");
  }
  if (document->is_locked()) {
    throw extraction_error(ErrorKind::corrupt, input.relative_path,
                           "the PDF is encrypted and needs a password");
  }
  return document;
}

// ISO 8601 in UTC, or empty when the date is absent.
std::string iso_date(std::time_t time) {
  if (time == static_cast<std::time_t>(-1)) return {};
  std::tm parts{};
  if (gmtime_r(&time, &parts) == nullptr) return {};
  char text[32];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return std::string(text, length);
}

// Metadata strings have no text budget of their own; cap each one.
constexpr std::uint64_t kMaxMetadataCharacters = 4096;

void write_optional(JsonWriter& out, std::string_view name, const std::string& value) {
  if (value.empty()) return;
  out.key(name);
  out.capped_value(value, kMaxMetadataCharacters);
}

void write_metadata(const poppler::document& document, JsonWriter& out) {
  out.key("metadata");
  out.begin_object();
  write_optional(out, "title", utf8_of(document.get_title()));
  write_optional(out, "author", utf8_of(document.get_author()));
  write_optional(out, "subject", utf8_of(document.get_subject()));
  write_optional(out, "keywords", utf8_of(document.get_keywords()));
  write_optional(out, "creator", utf8_of(document.get_creator()));
  write_optional(out, "producer", utf8_of(document.get_producer()));
  write_optional(out, "creation_date", iso_date(document.get_creation_date_t()));
  write_optional(out, "modification_date", iso_date(document.get_modification_date_t()));
  out.end_object();
}

std::string pdf_version(const poppler::document& document) {
  int major = 0;
  int minor = 0;
  document.get_pdf_version(&major, &minor);
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string page_text(const poppler::document& document, int index) {
  std::unique_ptr<poppler::page> page(document.create_page(index));
  if (!page) return {};
  return utf8_of(page->text());
}

}  // namespace

ExtractorSummary extract_pdf(const ExtractionInput& input, JsonWriter& out) {
  silence_poppler();
  const std::unique_ptr<poppler::document> document = open_pdf(input);
  const int pages = document->pages();
  out.field("pdf_version", pdf_version(*document));
  out.field("encrypted", document->is_encrypted());
  out.field("reader", std::string("poppler ") + poppler::version_string());
  write_metadata(*document, out);

  ExtractorSummary summary;
  summary.pages = pages;
  TextBudget budget(input.limits.max_text_chars);
  std::uint64_t characters = 0;
  out.key("page_texts");
  out.begin_array();
  for (int index = 0; index < pages; ++index) {
    input.deadline.check();
    const std::string text = page_text(*document, index);
    const TextStats stats = text_stats(text);
    summary.words += static_cast<std::int64_t>(stats.words);
    characters += stats.characters;
    out.value(budget.take(text, stats.characters));
  }
  out.end_array();
  out.field("characters", characters);
  summary.truncated = budget.truncated();
  return summary;
}

}  // namespace processing
