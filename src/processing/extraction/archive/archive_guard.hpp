// Zip-bomb protection for ZIP, DOCX and XLSX: checks the central directory's
// declared sizes (entry count, total uncompressed size, compression ratios)
// and, because headers can lie, counts the bytes actually inflated against
// the same limits. Violations are "archive_limits" ExtractionErrors. Owned by
// the document extractors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "processing/extraction/archive/zip_archive.hpp"
#include "processing/extraction/deadline.hpp"
#include "processing/extraction/extraction.hpp"

namespace processing {

// Ratios are only enforced above this many uncompressed bytes: tiny entries
// (a few repeated bytes) legitimately compress far better than any bomb
// threshold and cannot hurt.
inline constexpr std::uint64_t kRatioCheckFloorBytes = 64 * 1024;

class ArchiveGuard {
 public:
  ArchiveGuard(const ExtractionLimits& limits, std::string relative_path, const Deadline& deadline);

  // All entries, after checking their declared sizes against the limits.
  std::vector<ZipEntry> checked_entries(const ZipArchive& archive) const;
  // Inflates one entry, counting real bytes against the declared size and
  // the limits (per entry and over everything read through this guard).
  std::string read(const ZipArchive& archive, const ZipEntry& entry);

 private:
  void check_ratio(std::uint64_t uncompressed, std::uint64_t compressed,
                   const std::string& what) const;
  [[noreturn]] void fail(const std::string& cause) const;

  const ExtractionLimits& limits_;
  std::string relative_path_;
  const Deadline& deadline_;
  std::uint64_t inflated_total_ = 0;
};

}  // namespace processing
