// Resolves a job's relative path under the storage root and refuses every
// escape: "..", absolute paths, and symlinks (of the file or of any parent
// directory) whose target lies outside the root. Owned by the document
// extractors.
#pragma once

#include <filesystem>
#include <string_view>

namespace processing {

// The canonical path of the file inside the canonical root. Throws
// ExtractionError: "invalid_input" (empty path, NUL byte), "path_escape",
// "missing_file", "storage_unavailable" (root missing or unreadable).
std::filesystem::path resolve_storage_path(const std::filesystem::path& storage_root,
                                           std::string_view relative_path);

// True when `path` is `root` or lies below it (both canonical, compared by
// components, so "/data2" is not inside "/data").
bool is_within(const std::filesystem::path& root, const std::filesystem::path& path);

}  // namespace processing
