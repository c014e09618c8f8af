// The extractor for plain text, CSV, Markdown and JSON: decodes to UTF-8,
// counts characters, lines and words, stores the (capped) text, and adds the
// CSV shape, Markdown headings or JSON validity. Owned by the document
// extractors.
#pragma once

#include "processing/extraction/extractor.hpp"

namespace processing {

inline constexpr ExtractorInfo kTextExtractor{"text", "1.0.0"};

ExtractorSummary extract_text(const ExtractionInput& input, JsonWriter& out);

}  // namespace processing
