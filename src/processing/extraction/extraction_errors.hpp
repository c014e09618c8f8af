// Builds ExtractionError values with the stable error_type strings and their
// retry classification, and with messages that name the file and the cause.
// Owned by the document extractors (src/processing/extraction); used by all
// of them.
#pragma once

#include <string_view>

#include "processing/extraction/extraction.hpp"

namespace processing {

enum class ErrorKind {
  missing_file,
  path_escape,
  too_large,
  corrupt,
  archive_limits,
  timeout,
  invalid_input,
  storage_unavailable,
  extractor_unavailable,
};

// The stable error_type string, e.g. "path_escape".
std::string_view error_type_name(ErrorKind kind);
bool is_retryable(ErrorKind kind);

// "Cannot extract 'docs/a.pdf': <cause>." (cause without final period).
ExtractionError extraction_error(ErrorKind kind, std::string_view relative_path,
                                 std::string_view cause);

}  // namespace processing
