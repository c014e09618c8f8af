#include "processing/extraction/archive/archive_guard.hpp"

#include <sstream>

#include "processing/extraction/extraction_errors.hpp"

namespace processing {

ArchiveGuard::ArchiveGuard(const ExtractionLimits& limits, std::string relative_path,
                           const Deadline& deadline)
    : limits_(limits), relative_path_(std::move(relative_path)), deadline_(deadline) {}

void ArchiveGuard::fail(const std::string& cause) const {
  throw extraction_error(ErrorKind::archive_limits, relative_path_, cause);
}

void ArchiveGuard::check_ratio(std::uint64_t uncompressed, std::uint64_t compressed,
                               const std::string& what) const {
  if (uncompressed <= kRatioCheckFloorBytes) return;
  const double ratio =
      static_cast<double>(uncompressed) / static_cast<double>(compressed == 0 ? 1 : compressed);
  if (ratio <= limits_.max_compression_ratio) return;
  std::ostringstream cause;
  cause << what << " has a compression ratio of " << static_cast<std::uint64_t>(ratio)
        << ":1, above the limit of " << limits_.max_compression_ratio << ":1";
  fail(cause.str());
}

std::vector<ZipEntry> ArchiveGuard::checked_entries(const ZipArchive& archive) const {
  const std::uint64_t count = archive.entry_count();
  if (count > limits_.max_archive_entries) {
    fail("the archive has " + std::to_string(count) + " entries, more than the limit of " +
         std::to_string(limits_.max_archive_entries));
  }
  std::vector<ZipEntry> entries;
  entries.reserve(count);
  std::uint64_t total_size = 0;
  std::uint64_t total_compressed = 0;
  for (std::uint64_t index = 0; index < count; ++index) {
    deadline_.check();
    ZipEntry entry = archive.entry(index);
    if (entry.size > limits_.max_uncompressed_bytes - total_size) {
      fail("the archive declares more than " + std::to_string(limits_.max_uncompressed_bytes) +
           " uncompressed bytes");
    }
    total_size += entry.size;
    total_compressed += entry.compressed_size;
    check_ratio(entry.size, entry.compressed_size, "entry '" + entry.name + "'");
    entries.push_back(std::move(entry));
  }
  check_ratio(total_size, total_compressed, "the archive");
  return entries;
}

std::string ArchiveGuard::read(const ZipArchive& archive, const ZipEntry& entry) {
  std::string content;
  std::uint64_t entry_bytes = 0;
  archive.inflate(entry, [&](std::string_view chunk) {
    deadline_.check();
    entry_bytes += chunk.size();
    inflated_total_ += chunk.size();
    if (entry_bytes > entry.size) {
      fail("entry '" + entry.name + "' inflates beyond its declared size of " +
           std::to_string(entry.size) + " bytes");
    }
    if (inflated_total_ > limits_.max_uncompressed_bytes) {
      fail("the archive inflates to more than " + std::to_string(limits_.max_uncompressed_bytes) +
           " bytes");
    }
    check_ratio(entry_bytes, entry.compressed_size, "entry '" + entry.name + "'");
    content.append(chunk);
  });
  if (entry_bytes != entry.size) {
    throw extraction_error(ErrorKind::corrupt, relative_path_,
                           "ZIP entry '" + entry.name + "' is shorter than its declared size");
  }
  return content;
}

}  // namespace processing
