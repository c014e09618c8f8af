#include "processing/extraction/extraction.hpp"

#include <chrono>
#include <new>

#include "processing/extraction/archive/zip_extractor.hpp"
#include "processing/extraction/content_detector.hpp"
#include "processing/extraction/deadline.hpp"
#include "processing/extraction/extraction_errors.hpp"
#include "processing/extraction/extractor.hpp"
#include "processing/extraction/office/docx_extractor.hpp"
#include "processing/extraction/office/xlsx_extractor.hpp"
#include "processing/extraction/pdf/pdf_extractor.hpp"
#include "processing/extraction/storage/file_digest.hpp"
#include "processing/extraction/storage/stored_file.hpp"
#include "processing/extraction/text/text_extractor.hpp"

namespace processing {
namespace {

// Files of no known kind: the common fields only.
inline constexpr ExtractorInfo kMetadataExtractor{"metadata", "1.0.0"};

using ExtractorFunction = ExtractorSummary (*)(const ExtractionInput&, JsonWriter&);

struct Extractor {
  ExtractorInfo info;
  ExtractorFunction run;
};

ExtractorSummary extract_nothing(const ExtractionInput&, JsonWriter&) {
  return {};
}

Extractor extractor_for(ContentKind kind) {
  switch (kind) {
    case ContentKind::text:
      return {kTextExtractor, extract_text};
    case ContentKind::pdf:
      return {kPdfExtractor, extract_pdf};
    case ContentKind::docx:
      return {kDocxExtractor, extract_docx};
    case ContentKind::xlsx:
      return {kXlsxExtractor, extract_xlsx};
    case ContentKind::zip:
      return {kZipExtractor, extract_zip};
    case ContentKind::other:
      break;
  }
  return {kMetadataExtractor, extract_nothing};
}

DetectedContent detect(const StoredFile& file, std::string_view relative_path) {
  try {
    return detect_content(file.content, std::filesystem::path(relative_path).extension().string());
  } catch (const ExtractionError&) {
    throw;
  } catch (const std::runtime_error& error) {
    throw extraction_error(
        ErrorKind::extractor_unavailable, relative_path,
        std::string("the content type cannot be detected (") + error.what() + ")");
  }
}

void write_common_fields(const ExtractionResult& result, const DetectedContent& content,
                         const ExtractorInfo& info, JsonWriter& out) {
  out.field("kind", result.kind);
  out.field("mime_type", result.mime_type);
  out.field("size_bytes", result.size_bytes);
  out.field("sha256", result.sha256);
  out.key("extractor");
  out.begin_object();
  out.field("name", info.name);
  out.field("version", info.version);
  out.end_object();
  out.key("magic");
  out.begin_object();
  out.field("mime_type", content.magic.mime_type);
  out.field("encoding", content.magic.encoding);
  out.end_object();
}

void write_summary_fields(const ExtractorSummary& summary, JsonWriter& out) {
  out.field("pages", summary.pages);
  out.field("words", summary.words);
  out.field("truncated", summary.truncated);
}

ExtractionResult extract_unguarded(const std::filesystem::path& storage_root,
                                   std::string_view relative_path, const ExtractionLimits& limits) {
  const Deadline deadline(limits.time_limit, std::string(relative_path));
  const StoredFile file = load_stored_file(storage_root, relative_path, limits);
  deadline.check();
  const DetectedContent content = detect(file, relative_path);
  const Extractor extractor = extractor_for(content.kind);

  ExtractionResult result;
  result.kind = kind_name(content.kind);
  result.mime_type = content.mime_type;
  result.size_bytes = file.content.size();
  result.sha256 = sha256_hex(file.content);
  deadline.check();

  JsonWriter out;
  out.begin_object();
  write_common_fields(result, content, extractor.info, out);
  const ExtractionInput input{relative_path, file.content, content, limits, deadline};
  const ExtractorSummary summary = extractor.run(input, out);
  write_summary_fields(summary, out);
  out.end_object();

  result.json = out.str();
  result.pages = summary.pages;
  result.words = summary.words;
  result.truncated = summary.truncated;
  return result;
}

}  // namespace

ExtractionResult extract_file(const std::filesystem::path& storage_root,
                              std::string_view relative_path, const ExtractionLimits& limits) {
  try {
    const auto started = std::chrono::steady_clock::now();
    ExtractionResult result = extract_unguarded(storage_root, relative_path, limits);
    result.timing.extract_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now() - started)
                                   .count();
    return result;
  } catch (const ExtractionError&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw extraction_error(ErrorKind::too_large, relative_path,
                           "extracting it needs more memory than is available");
  } catch (const std::exception& error) {
    throw extraction_error(ErrorKind::corrupt, relative_path,
                           std::string("the extractor failed (") + error.what() + ")");
  }
}

}  // namespace processing
