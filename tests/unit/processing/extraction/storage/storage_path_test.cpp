#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fixtures.hpp"
#include "processing/extraction/extraction.hpp"
#include "processing/extraction/storage/storage_path.hpp"

namespace fs = std::filesystem;
using processing::testing::error_of;
using processing::testing::error_type_of;
using processing::testing::TempDir;

namespace {

std::string resolve_error(const fs::path& root, std::string_view relative) {
  return error_type_of([&] { processing::resolve_storage_path(root, relative); });
}

std::string extract_error(const fs::path& root, std::string_view relative) {
  return error_type_of([&] { processing::extract_file(root, relative, {}); });
}

}  // namespace

TEST_CASE("a file inside the storage root resolves to its canonical path") {
  TempDir root;
  root.write("docs/a.txt", "hello");
  const fs::path resolved = processing::resolve_storage_path(root.path(), "docs/a.txt");
  CHECK(resolved == fs::canonical(root.path() / "docs/a.txt"));
  CHECK(processing::resolve_storage_path(root.path(), "docs/../docs/./a.txt") == resolved);
}

TEST_CASE("paths leaving the storage root are refused as path_escape") {
  TempDir outside;
  outside.write("secret.txt", "secret");
  TempDir root;
  root.write("docs/a.txt", "hello");

  SUBCASE("dot-dot") {
    const std::string up = "../" + outside.path().filename().string() + "/secret.txt";
    CHECK(resolve_error(root.path(), up) == "path_escape");
    CHECK(resolve_error(root.path(), "docs/../../x.txt") == "path_escape");
    CHECK(extract_error(root.path(), up) == "path_escape");
  }
  SUBCASE("absolute path, even one inside the root") {
    CHECK(resolve_error(root.path(), (outside.path() / "secret.txt").string()) == "path_escape");
    CHECK(resolve_error(root.path(), (root.path() / "docs/a.txt").string()) == "path_escape");
  }
  SUBCASE("symlinked file pointing outside") {
    fs::create_symlink(outside.path() / "secret.txt", root.path() / "link.txt");
    CHECK(resolve_error(root.path(), "link.txt") == "path_escape");
    CHECK(extract_error(root.path(), "link.txt") == "path_escape");
  }
  SUBCASE("symlinked parent directory pointing outside") {
    fs::create_directory_symlink(outside.path(), root.path() / "linked-dir");
    CHECK(resolve_error(root.path(), "linked-dir/secret.txt") == "path_escape");
    CHECK(resolve_error(root.path(), "linked-dir/missing.txt") == "path_escape");
  }
  SUBCASE("a sibling directory sharing the root's name as prefix") {
    const fs::path sibling = root.path().string() + "-sibling";
    fs::create_directories(sibling);
    std::ofstream(sibling / "x.txt") << "x";
    const std::string relative = "../" + sibling.filename().string() + "/x.txt";
    CHECK(resolve_error(root.path(), relative) == "path_escape");
    fs::remove_all(sibling);
  }
}

TEST_CASE("symlinks that stay inside the root are followed") {
  TempDir root;
  root.write("real/a.txt", "hello inside");
  fs::create_symlink(root.path() / "real/a.txt", root.path() / "alias.txt");
  fs::create_directory_symlink(root.path() / "real", root.path() / "alias-dir");
  CHECK(processing::resolve_storage_path(root.path(), "alias.txt") ==
        fs::canonical(root.path() / "real/a.txt"));
  CHECK(processing::extract_file(root.path(), "alias-dir/a.txt", {}).kind == "text");
}

TEST_CASE("a storage root given through a symlink still works") {
  TempDir holder;
  holder.write("store/a.txt", "hello");
  fs::create_directory_symlink(holder.path() / "store", holder.path() / "store-link");
  CHECK(processing::extract_file(holder.path() / "store-link", "a.txt", {}).size_bytes == 5);
}

TEST_CASE("missing files, bad paths and a missing root are classified") {
  TempDir root;
  root.write("docs/a.txt", "hello");
  CHECK(resolve_error(root.path(), "docs/none.txt") == "missing_file");
  CHECK(resolve_error(root.path(), "nodir/none.txt") == "missing_file");
  CHECK(extract_error(root.path(), "docs/a.txt/below") == "missing_file");
  CHECK(resolve_error(root.path(), "") == "invalid_input");
  CHECK(resolve_error(root.path(), std::string("a\0b", 3)) == "invalid_input");
  CHECK(extract_error(root.path(), "docs") == "invalid_input");
  CHECK(extract_error(root.path(), ".") == "invalid_input");

  const processing::ExtractionError missing_root =
      error_of([&] { processing::extract_file(root.path() / "gone", "docs/a.txt", {}); });
  CHECK(missing_root.error_type() == "storage_unavailable");
  CHECK(missing_root.retryable());
}

TEST_CASE("dangling symlinks are missing files or escapes; a FIFO is no regular file") {
  TempDir root;
  TempDir outside;
  fs::create_symlink(root.path() / "nowhere.txt", root.path() / "dangling.txt");
  CHECK(extract_error(root.path(), "dangling.txt") == "missing_file");
  fs::create_symlink(outside.path() / "nowhere.txt", root.path() / "dangling-out.txt");
  CHECK(extract_error(root.path(), "dangling-out.txt") == "path_escape");
  fs::create_symlink("../../../../../../../../tmp/x", root.path() / "dangling-up.txt");
  CHECK(extract_error(root.path(), "dangling-up.txt") == "path_escape");
  REQUIRE(mkfifo((root.path() / "pipe").c_str(), 0600) == 0);
  CHECK(extract_error(root.path(), "pipe") == "invalid_input");
}

TEST_CASE("error messages name the file and the cause") {
  TempDir root;
  const processing::ExtractionError error =
      error_of([&] { processing::extract_file(root.path(), "../etc/passwd", {}); });
  CHECK(std::string(error.what()) ==
        "Cannot extract '../etc/passwd': the path leads outside the storage root.");
  CHECK_FALSE(error.retryable());
}

TEST_CASE("is_within compares whole path components") {
  CHECK(processing::is_within("/data", "/data/a.txt"));
  CHECK(processing::is_within("/data", "/data"));
  CHECK(processing::is_within("/data/", "/data/x"));
  CHECK_FALSE(processing::is_within("/data", "/data2/a.txt"));
  CHECK_FALSE(processing::is_within("/data", "/"));
}
