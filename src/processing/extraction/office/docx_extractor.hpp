// The DOCX extractor (libzip + pugixml): the text of every paragraph (w:p) of
// word/document.xml, tables and text boxes included, the paragraph count and
// the words. Zip-bomb limits apply (archive_guard.hpp). Owned by the document
// extractors.
#pragma once

#include "processing/extraction/extractor.hpp"

namespace processing {

inline constexpr ExtractorInfo kDocxExtractor{"docx", "1.0.0"};

ExtractorSummary extract_docx(const ExtractionInput& input, JsonWriter& out);

}  // namespace processing
