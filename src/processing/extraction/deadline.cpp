#include "processing/extraction/deadline.hpp"

#include "processing/extraction/extraction_errors.hpp"

namespace processing {

Deadline::Deadline(std::chrono::milliseconds limit, std::string relative_path)
    : end_(Clock::now() + limit), limit_(limit), relative_path_(std::move(relative_path)) {}

void Deadline::check() const {
  if (!expired()) return;
  throw extraction_error(
      ErrorKind::timeout, relative_path_,
      "extraction took longer than the time limit of " + std::to_string(limit_.count()) + " ms");
}

}  // namespace processing
