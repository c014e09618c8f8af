#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "processing/extraction/extraction.hpp"
#include "processing/extraction/extraction_protocol.hpp"
#include "processing/extraction/isolated_extraction.hpp"

using processing::ExtractionLimits;
using processing::ExtractionResult;
using processing::testing::error_of;
using processing::testing::pdf_bytes;
using processing::testing::TempDir;

namespace {

const std::filesystem::path kChild = PROCESSING_TEST_EXTRACT_CHILD;

// Sets PROCESSING_TEST_CHILD_MODE for the children started meanwhile.
class ChildMode {
 public:
  explicit ChildMode(const char* mode) { setenv("PROCESSING_TEST_CHILD_MODE", mode, 1); }
  ~ChildMode() { unsetenv("PROCESSING_TEST_CHILD_MODE"); }
  ChildMode(const ChildMode&) = delete;
  ChildMode& operator=(const ChildMode&) = delete;
};

// True when no child of this process is left (running or zombie).
bool no_children_left() {
  return waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

std::vector<char*> argv_of(std::vector<std::string>& arguments) {
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  return argv;
}

}  // namespace

TEST_CASE("isolated extraction returns what in-process extraction returns") {
  TempDir root;
  root.write("a.txt", "Hello isolated world\n");
  root.write("doc.pdf", pdf_bytes({"Isolated PDF text"}, "/Title (Iso)"));
  for (const char* name : {"a.txt", "doc.pdf"}) {
    CAPTURE(name);
    const ExtractionResult direct = processing::extract_file(root.path(), name, {});
    const ExtractionResult isolated =
        processing::extract_file_isolated(kChild, root.path(), name, {});
    CHECK(isolated.json == direct.json);
    CHECK(isolated.kind == direct.kind);
    CHECK(isolated.mime_type == direct.mime_type);
    CHECK(isolated.sha256 == direct.sha256);
    CHECK(isolated.size_bytes == direct.size_bytes);
    CHECK(isolated.pages == direct.pages);
    CHECK(isolated.words == direct.words);
    CHECK(isolated.truncated == direct.truncated);
    // The time split: measured on both sides, the isolated one in three parts.
    CHECK(direct.timing.extract_us >= 0);
    CHECK(direct.timing.sandbox_start_us == -1);
    CHECK(isolated.timing.sandbox_start_us >= 0);
    CHECK(isolated.timing.extract_us >= 0);
    CHECK(isolated.timing.sandbox_finish_us >= 0);
  }
  CHECK(no_children_left());
}

TEST_CASE("isolated extraction passes the limits to the child") {
  TempDir root;
  root.write("a.txt", "0123456789 abcdef");
  ExtractionLimits limits;
  limits.max_text_chars = 3;
  const ExtractionResult truncated =
      processing::extract_file_isolated(kChild, root.path(), "a.txt", limits);
  CHECK(truncated.truncated);
  limits.max_file_bytes = 5;
  const processing::ExtractionError error =
      error_of([&] { processing::extract_file_isolated(kChild, root.path(), "a.txt", limits); });
  CHECK(error.error_type() == "too_large");
}

TEST_CASE("the child's extraction errors come back unchanged") {
  TempDir root;
  const processing::ExtractionError error =
      error_of([&] { processing::extract_file_isolated(kChild, root.path(), "none.txt", {}); });
  CHECK(error.error_type() == "missing_file");
  CHECK_FALSE(error.retryable());
  CHECK(std::string(error.what()) ==
        "Cannot extract 'none.txt': the file does not exist in the storage root.");
  const processing::ExtractionError escape =
      error_of([&] { processing::extract_file_isolated(kChild, root.path(), "../x", {}); });
  CHECK(escape.error_type() == "path_escape");
}

TEST_CASE("an expired time limit kills the child and reports a timeout") {
  TempDir root;
  root.write("a.txt", "hello");
  ExtractionLimits limits;
  limits.time_limit = std::chrono::milliseconds(0);
  const processing::ExtractionError error =
      error_of([&] { processing::extract_file_isolated(kChild, root.path(), "a.txt", limits); });
  CHECK(error.error_type() == "timeout");
  CHECK(std::string(error.what()).find("a.txt") != std::string::npos);
  CHECK(no_children_left());
}

TEST_CASE("a hanging child is killed at the time limit") {
  TempDir root;
  root.write("a.txt", "hello");
  ChildMode mode("hang");
  ExtractionLimits limits;
  limits.time_limit = std::chrono::milliseconds(200);
  const auto started = std::chrono::steady_clock::now();
  const processing::ExtractionError error =
      error_of([&] { processing::extract_file_isolated(kChild, root.path(), "a.txt", limits); });
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(error.error_type() == "timeout");
  CHECK(elapsed >= std::chrono::milliseconds(200));
  CHECK(elapsed < std::chrono::seconds(10));
  CHECK(no_children_left());
}

TEST_CASE("a crashing child is a permanent corrupt error naming the signal") {
  TempDir root;
  root.write("a.txt", "hello");
  ChildMode mode("abort");
  const processing::ExtractionError error =
      error_of([&] { processing::extract_file_isolated(kChild, root.path(), "a.txt", {}); });
  CHECK(error.error_type() == "corrupt");
  CHECK_FALSE(error.retryable());
  CHECK(std::string(error.what()).find("SIGABRT") != std::string::npos);
  CHECK(std::string(error.what()).find("a.txt") != std::string::npos);
}

TEST_CASE("an unreadable answer or a missing helper is retryable extractor_unavailable") {
  TempDir root;
  root.write("a.txt", "hello");
  {
    ChildMode mode("garbage");
    const processing::ExtractionError error =
        error_of([&] { processing::extract_file_isolated(kChild, root.path(), "a.txt", {}); });
    CHECK(error.error_type() == "extractor_unavailable");
    CHECK(error.retryable());
  }
  const processing::ExtractionError missing = error_of([&] {
    processing::extract_file_isolated(root.path() / "no-such-worker", root.path(), "a.txt", {});
  });
  CHECK(missing.error_type() == "extractor_unavailable");
  CHECK(missing.retryable());
}

#if !defined(__SANITIZE_ADDRESS__)
TEST_CASE("the child's address space is limited (RLIMIT_AS)") {
  TempDir root;
  // Reading 120 MiB works under 256 MiB; decoding needs a second copy, which
  // does not fit: the child reports too_large instead of eating memory.
  root.write("big.txt", std::string(120u << 20, 'a'));
  ExtractionLimits limits;
  limits.max_file_bytes = 200u << 20;
  limits.max_memory_bytes = 256u << 20;
  const processing::ExtractionError error =
      error_of([&] { processing::extract_file_isolated(kChild, root.path(), "big.txt", limits); });
  CHECK(error.error_type() == "too_large");
  limits.max_memory_bytes = 2ull << 30;
  CHECK(processing::extract_file_isolated(kChild, root.path(), "big.txt", limits).words == 1);
}
#endif

TEST_CASE("extract-file arguments round-trip through the command parser") {
  ExtractionLimits limits;
  limits.max_file_bytes = 1;
  limits.max_text_chars = 2;
  limits.max_archive_entries = 3;
  limits.max_uncompressed_bytes = 4;
  limits.max_compression_ratio = 5.5;
  limits.max_preview_rows = 6;
  limits.time_limit = std::chrono::milliseconds(2500);
  limits.max_memory_bytes = 8;
  std::vector<std::string> arguments = {"worker"};
  for (std::string& argument :
       processing::extract_command_arguments("/store", "-odd name.txt", limits)) {
    arguments.push_back(argument);
  }
  std::vector<char*> argv = argv_of(arguments);
  const processing::ExtractCommand command =
      processing::parse_extract_command(static_cast<int>(arguments.size()), argv.data());
  CHECK(command.storage_root == "/store");
  CHECK(command.relative_path == "-odd name.txt");
  CHECK(command.limits.max_file_bytes == 1);
  CHECK(command.limits.max_text_chars == 2);
  CHECK(command.limits.max_archive_entries == 3);
  CHECK(command.limits.max_uncompressed_bytes == 4);
  CHECK(command.limits.max_compression_ratio == 5.5);
  CHECK(command.limits.max_preview_rows == 6);
  CHECK(command.limits.time_limit == std::chrono::milliseconds(2500));
  CHECK(command.memory_limit_bytes == 8);
  CHECK(command.cpu_limit_seconds == 4);
}

TEST_CASE("bad extract-file usage is invalid_input") {
  const auto parse = [](std::vector<std::string> arguments) {
    std::vector<char*> argv = argv_of(arguments);
    return processing::testing::error_type_of([&] {
      processing::parse_extract_command(static_cast<int>(arguments.size()), argv.data());
    });
  };
  CHECK(parse({"worker", "extract-file", "--root", "/r"}) == "invalid_input");
  CHECK(parse({"worker", "extract-file", "--root", "/r", "--path"}) == "invalid_input");
  CHECK(parse({"worker", "extract-file", "--root", "/r", "--path", "p", "--bogus", "1"}) ==
        "invalid_input");
  CHECK(parse({"worker", "extract-file", "--root", "/r", "--path", "p", "--max-text-chars",
               "12x"}) == "invalid_input");
  CHECK(parse({"worker", "other"}) == "invalid_input");
  CHECK(parse({"worker", "extract-file", "--root", "/r", "--path", "p"}) == "no error");
}

TEST_CASE("the child's messages decode into results and errors") {
  processing::ExtractionResult result;
  result.json = R"({"kind":"text","words":2})";
  result.kind = "text";
  result.mime_type = "text/plain";
  result.sha256 = "ab";
  result.size_bytes = 9;
  result.words = 2;
  result.truncated = true;
  const ExtractionResult decoded =
      processing::decode_child_message(processing::success_message(result), "a.txt");
  CHECK(decoded.json == result.json);
  CHECK(decoded.kind == "text");
  CHECK(decoded.size_bytes == 9);
  CHECK(decoded.words == 2);
  CHECK(decoded.truncated);
  CHECK(decoded.timing.extract_us == -1);  // a message without "timing"

  result.timing.extract_us = 1234;
  std::int64_t ready_ns = -1;
  const ExtractionResult timed = processing::decode_child_message(
      processing::success_message(result, 5'000'000'000), "a.txt", &ready_ns);
  CHECK(timed.timing.extract_us == 1234);
  CHECK(ready_ns == 5'000'000'000);
  CHECK(timed.json == result.json);

  const processing::ExtractionError original("storage_unavailable", true, "Cannot extract 'x'.");
  const processing::ExtractionError error = error_of(
      [&] { processing::decode_child_message(processing::failure_message(original), "x"); });
  CHECK(error.error_type() == "storage_unavailable");
  CHECK(error.retryable());
  CHECK(std::string(error.what()) == "Cannot extract 'x'.");

  CHECK(processing::testing::error_type_of([] {
          processing::decode_child_message(R"({"ok":true,"result":{}})", "x");
        }) == "extractor_unavailable");
}

TEST_CASE("serve requests round-trip any path, newlines included") {
  for (const std::string path : {"a.txt", "dir/with \"quotes\"/b.pdf", "line\nbreak.txt"}) {
    const std::string line = processing::serve_request(path);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(processing::parse_serve_request(line) == path);
  }
  CHECK(!processing::parse_serve_request("not json"));
  CHECK(!processing::parse_serve_request("{\"path\":\"a\"}"));
}

TEST_CASE("an extractor pool's children serve several documents each, as in-process extraction") {
  TempDir root;
  root.write("a.txt", "Hello pooled world\n");
  root.write("doc.pdf", pdf_bytes({"Pooled PDF text"}, "/Title (Pool)"));
  {
    processing::ExtractorPool pool(kChild, 3);
    for (const char* name : {"a.txt", "doc.pdf", "a.txt", "doc.pdf", "a.txt"}) {
      CAPTURE(name);
      const ExtractionResult direct = processing::extract_file(root.path(), name, {});
      const ExtractionResult pooled = pool.extract(root.path(), name, {});
      CHECK(pooled.json == direct.json);
      CHECK(pooled.kind == direct.kind);
      CHECK(pooled.words == direct.words);
      CHECK(pooled.timing.sandbox_start_us >= 0);
      CHECK(pooled.timing.extract_us >= 0);
      CHECK(pooled.timing.sandbox_finish_us >= 0);
    }
    CHECK(pool.started() == 2);  // 3 documents, then a new child for the next 2
  }
  CHECK(no_children_left());
}

TEST_CASE("a document's own error leaves the pooled child serving") {
  TempDir root;
  root.write("a.txt", "still here\n");
  {
    processing::ExtractorPool pool(kChild, 10);
    CHECK(error_of([&] { pool.extract(root.path(), "missing.txt", {}); }).error_type() ==
          "missing_file");
    CHECK(error_of([&] { pool.extract(root.path(), "../escape.txt", {}); }).error_type() ==
          "path_escape");
    CHECK(pool.extract(root.path(), "a.txt", {}).words == 2);
    CHECK(pool.started() == 1);
  }
  CHECK(no_children_left());
}

TEST_CASE("a pooled child that crashes, hangs or answers garbage is dropped with the error") {
  TempDir root;
  root.write("a.txt", "one two three\n");
  {
    processing::ExtractorPool pool(kChild, 10);
    {
      ChildMode mode("abort");
      const processing::ExtractionError error =
          error_of([&] { pool.extract(root.path(), "a.txt", {}); });
      CHECK(error.error_type() == "corrupt");
      CHECK(std::string(error.what()).find("SIGABRT") != std::string::npos);
    }
    {
      ChildMode mode("hang");
      ExtractionLimits limits;
      limits.time_limit = std::chrono::milliseconds(300);
      CHECK(error_of([&] { pool.extract(root.path(), "a.txt", limits); }).error_type() ==
            "timeout");
    }
    {
      ChildMode mode("garbage");
      const processing::ExtractionError error =
          error_of([&] { pool.extract(root.path(), "a.txt", {}); });
      CHECK(error.error_type() == "extractor_unavailable");
      CHECK(error.retryable());
    }
    CHECK(pool.extract(root.path(), "a.txt", {}).words == 3);  // a new, healthy child
    CHECK(pool.started() == 4);
  }
  CHECK(no_children_left());
}

TEST_CASE("a missing helper is retryable extractor_unavailable for the pool too") {
  TempDir root;
  root.write("a.txt", "x\n");
  processing::ExtractorPool pool("/nonexistent/bullmq-worker", 5);
  const processing::ExtractionError error =
      error_of([&] { pool.extract(root.path(), "a.txt", {}); });
  CHECK(error.error_type() == "extractor_unavailable");
  CHECK(error.retryable());
}
