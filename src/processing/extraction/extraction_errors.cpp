#include "processing/extraction/extraction_errors.hpp"

#include <string>

namespace processing {

std::string_view error_type_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::missing_file:
      return "missing_file";
    case ErrorKind::path_escape:
      return "path_escape";
    case ErrorKind::too_large:
      return "too_large";
    case ErrorKind::corrupt:
      return "corrupt";
    case ErrorKind::archive_limits:
      return "archive_limits";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::invalid_input:
      return "invalid_input";
    case ErrorKind::storage_unavailable:
      return "storage_unavailable";
    case ErrorKind::extractor_unavailable:
      return "extractor_unavailable";
  }
  return "invalid_input";
}

bool is_retryable(ErrorKind kind) {
  return kind == ErrorKind::storage_unavailable || kind == ErrorKind::extractor_unavailable;
}

ExtractionError extraction_error(ErrorKind kind, std::string_view relative_path,
                                 std::string_view cause) {
  std::string message = "Cannot extract '";
  message += relative_path;
  message += "': ";
  message += cause;
  message += '.';
  return ExtractionError(std::string(error_type_name(kind)), is_retryable(kind), message);
}

}  // namespace processing
