#include "processing/extraction/archive/zip_extractor.hpp"

#include "processing/extraction/archive/archive_guard.hpp"
#include "processing/extraction/archive/zip_archive.hpp"

namespace processing {
namespace {

// Entry names have no text budget; a hostile archive may carry huge ones.
constexpr std::uint64_t kMaxEntryNameCharacters = 1024;

void write_entry(const ZipEntry& entry, JsonWriter& out) {
  out.begin_object();
  out.key("name");
  out.capped_value(entry.name, kMaxEntryNameCharacters);
  out.field("size", entry.size);
  out.field("compressed_size", entry.compressed_size);
  out.field("directory", entry.is_directory());
  out.field("encrypted", entry.encrypted);
  out.end_object();
}

}  // namespace

ExtractorSummary extract_zip(const ExtractionInput& input, JsonWriter& out) {
  const ZipArchive archive(input.data, std::string(input.relative_path));
  const ArchiveGuard guard(input.limits, std::string(input.relative_path), input.deadline);
  const std::vector<ZipEntry> entries = guard.checked_entries(archive);
  std::uint64_t total_size = 0;
  std::uint64_t total_compressed = 0;
  out.key("entries");
  out.begin_array();
  for (const ZipEntry& entry : entries) {
    total_size += entry.size;
    total_compressed += entry.compressed_size;
    write_entry(entry, out);
  }
  out.end_array();
  out.field("entry_count", entries.size());
  out.field("total_size", total_size);
  out.field("total_compressed_size", total_compressed);
  return {};
}

}  // namespace processing
