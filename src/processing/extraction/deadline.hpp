// A per-file time limit, checked cooperatively by the extractors between
// units of work (pages, zip chunks, rows). Owned by the document extractors.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace processing {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts now; a limit of zero (or less) has already expired.
  Deadline(std::chrono::milliseconds limit, std::string relative_path);

  bool expired() const { return Clock::now() >= end_; }
  // Throws the "timeout" ExtractionError once the limit has passed.
  void check() const;

 private:
  Clock::time_point end_;
  std::chrono::milliseconds limit_;
  std::string relative_path_;
};

}  // namespace processing
