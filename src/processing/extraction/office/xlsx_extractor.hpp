// The XLSX extractor (libzip + pugixml): every sheet's name, dimension
// reference, row and column counts, and a preview of its first
// max_preview_rows rows with shared strings resolved. Zip-bomb limits apply
// (archive_guard.hpp). Owned by the document extractors.
#pragma once

#include "processing/extraction/extractor.hpp"

namespace processing {

inline constexpr ExtractorInfo kXlsxExtractor{"xlsx", "1.0.0"};

// Preview rows are cut to this many columns (a cell at XFD would otherwise
// blow every preview row up to 16384 entries).
inline constexpr std::uint32_t kMaxPreviewColumns = 256;

ExtractorSummary extract_xlsx(const ExtractionInput& input, JsonWriter& out);

}  // namespace processing
