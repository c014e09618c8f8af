#include "processing/extraction/storage/storage_path.hpp"

#include <algorithm>
#include <system_error>

#include "processing/extraction/extraction_errors.hpp"

namespace processing {
namespace fs = std::filesystem;
namespace {

fs::path canonical_root(const fs::path& storage_root, std::string_view relative_path) {
  std::error_code error;
  fs::path root = fs::canonical(storage_root, error);
  if (error || !fs::is_directory(root, error)) {
    throw extraction_error(ErrorKind::storage_unavailable, relative_path,
                           "the storage root '" + storage_root.string() + "' is not available");
  }
  return root;
}

void check_relative_path_text(std::string_view relative_path) {
  if (relative_path.empty()) {
    throw extraction_error(ErrorKind::invalid_input, relative_path, "the path is empty");
  }
  if (relative_path.find('\0') != std::string_view::npos) {
    throw extraction_error(ErrorKind::invalid_input, relative_path, "the path contains a NUL byte");
  }
  if (fs::path(relative_path).is_absolute()) {
    throw extraction_error(ErrorKind::path_escape, relative_path,
                           "the path is absolute, not relative to the storage root");
  }
}

// A symlink left after resolution is dangling: an escape when its target
// lies outside the root, a missing file otherwise.
[[noreturn]] void fail_dangling_symlink(const fs::path& root, const fs::path& link,
                                        std::string_view relative_path) {
  std::error_code error;
  const fs::path target = fs::read_symlink(link, error);
  const fs::path resolved_target = fs::weakly_canonical(link.parent_path() / target, error);
  if (error || !is_within(root, resolved_target)) {
    throw extraction_error(ErrorKind::path_escape, relative_path,
                           "the path is a symbolic link to a place outside the storage root");
  }
  throw extraction_error(ErrorKind::missing_file, relative_path,
                         "the path is a symbolic link to a file that does not exist");
}

}  // namespace

bool is_within(const fs::path& root, const fs::path& path) {
  auto root_end = root.end();
  // A trailing separator yields an empty last component; ignore it.
  if (root.has_relative_path() && root.filename().empty()) --root_end;
  const auto mismatch = std::mismatch(root.begin(), root_end, path.begin(), path.end());
  return mismatch.first == root_end;
}

fs::path resolve_storage_path(const fs::path& storage_root, std::string_view relative_path) {
  check_relative_path_text(relative_path);
  const fs::path root = canonical_root(storage_root, relative_path);
  std::error_code error;
  // Resolves every existing component, symlinks included; a missing tail is
  // normalised lexically (so "../x" still shows up as outside the root).
  const fs::path resolved = fs::weakly_canonical(root / fs::path(relative_path), error);
  if (error) {
    throw extraction_error(ErrorKind::storage_unavailable, relative_path,
                           "the path cannot be resolved (" + error.message() + ")");
  }
  if (!is_within(root, resolved)) {
    throw extraction_error(ErrorKind::path_escape, relative_path,
                           "the path leads outside the storage root");
  }
  const fs::file_status status = fs::symlink_status(resolved, error);
  if (!fs::exists(status)) {
    throw extraction_error(ErrorKind::missing_file, relative_path,
                           "the file does not exist in the storage root");
  }
  if (fs::is_symlink(status)) fail_dangling_symlink(root, resolved, relative_path);
  return resolved;
}

}  // namespace processing
