#include "processing/pipeline/process_file_error.hpp"

namespace processing {
namespace {

// "doc_id=<doc_id>:", the part of the message that names the document.
std::string document_part(std::string_view doc_id) {
  std::string part = "doc_id=";
  part += doc_id;
  part += ':';
  return part;
}

}  // namespace

std::string process_file_error(std::string_view doc_id, std::string_view error_type,
                               std::string_view message) {
  std::string text = "process-file ";
  text += document_part(doc_id);
  text += ' ';
  text += error_type;
  text += ": ";
  text += message;
  return text;
}

bool process_file_error_names(std::string_view failure, std::string_view doc_id) {
  return failure.find(document_part(doc_id)) != std::string_view::npos;
}

}  // namespace processing
