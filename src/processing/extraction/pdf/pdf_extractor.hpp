// The PDF extractor (poppler-cpp): page count, text per page (capped by
// max_text_chars over all pages) and the document information dictionary.
// Unreadable, password-protected or corrupt PDFs are "corrupt". Owned by the
// document extractors.
#pragma once

#include "processing/extraction/extractor.hpp"

namespace processing {

inline constexpr ExtractorInfo kPdfExtractor{"pdf", "1.0.0"};

ExtractorSummary extract_pdf(const ExtractionInput& input, JsonWriter& out);

}  // namespace processing
