// Loads a stored file's bytes for extraction: resolves the path (see
// storage_path.hpp), opens the canonical path refusing symlinks in every
// component (so a swap after resolution is caught), refuses anything but a
// regular file, and enforces max_file_bytes before and while reading.
// Owned by the document extractors.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "processing/extraction/extraction.hpp"

namespace processing {

struct StoredFile {
  std::filesystem::path path;  // canonical, inside the storage root
  std::string content;
};

// Throws ExtractionError (see resolve_storage_path, plus "too_large" and
// "invalid_input" for directories, devices and FIFOs).
StoredFile load_stored_file(const std::filesystem::path& storage_root,
                            std::string_view relative_path, const ExtractionLimits& limits);

}  // namespace processing
