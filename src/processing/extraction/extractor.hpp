// What every extractor receives and returns. An extractor writes its
// kind-specific fields into the open JSON object of the result and reports
// the summary numbers; extract_file() (extraction.cpp) writes the common
// fields (size, sha256, MIME type, extractor name and version). Owned by the
// document extractors.
#pragma once

#include <cstdint>
#include <string_view>

#include "processing/extraction/content_detector.hpp"
#include "processing/extraction/deadline.hpp"
#include "processing/extraction/extraction.hpp"
#include "processing/extraction/json_writer.hpp"

namespace processing {

struct ExtractorInfo {
  std::string_view name;
  std::string_view version;
};

struct ExtractionInput {
  std::string_view relative_path;
  std::string_view data;  // the whole file
  const DetectedContent& content;
  const ExtractionLimits& limits;
  const Deadline& deadline;
};

struct ExtractorSummary {
  std::int64_t pages = 0;
  std::int64_t words = 0;
  bool truncated = false;
};

}  // namespace processing
