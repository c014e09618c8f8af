// The ZIP extractor: lists the entries (name, sizes, directory and encryption
// flags) with the entry count and totals, after the zip-bomb checks on the
// declared sizes. Entries are not inflated. Owned by the document extractors.
#pragma once

#include "processing/extraction/extractor.hpp"

namespace processing {

inline constexpr ExtractorInfo kZipExtractor{"zip", "1.0.0"};

ExtractorSummary extract_zip(const ExtractionInput& input, JsonWriter& out);

}  // namespace processing
