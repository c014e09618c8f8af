// Read-only access to a ZIP archive held in memory (libzip): entry metadata
// from the central directory and chunked inflation of one entry. It enforces
// no limits itself; ArchiveGuard (archive_guard.hpp) does. Errors are
// "corrupt" ExtractionErrors. Owned by the document extractors.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

struct zip;

namespace processing {

struct ZipEntry {
  std::uint64_t index = 0;
  std::string name;
  std::uint64_t size = 0;             // declared uncompressed size
  std::uint64_t compressed_size = 0;  // declared compressed size
  std::uint16_t compression_method = 0;
  bool encrypted = false;
  bool is_directory() const { return !name.empty() && name.back() == '/'; }
};

class ZipArchive {
 public:
  // `data` must outlive the archive. Throws "corrupt" when it is no ZIP.
  ZipArchive(std::string_view data, std::string relative_path);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  std::uint64_t entry_count() const;
  ZipEntry entry(std::uint64_t index) const;
  std::optional<ZipEntry> find(std::string_view name) const;
  // Inflates the entry, handing each chunk to `on_chunk` (which may throw to
  // stop early). Throws "corrupt" on encrypted entries or broken data.
  void inflate(const ZipEntry& entry,
               const std::function<void(std::string_view chunk)>& on_chunk) const;

 private:
  zip* archive_ = nullptr;
  std::string relative_path_;
};

}  // namespace processing
