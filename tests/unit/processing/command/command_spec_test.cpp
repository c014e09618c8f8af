#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "processing/command/command_spec.hpp"

using processing::parse_byte_size;
using processing::parse_command_spec;
using processing::resolve_program;
using processing::split_command_lines;
using processing::split_words;
using Words = std::vector<std::string>;

namespace {

std::string error_of(auto&& call) {
  try {
    call();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("words split on blanks; quotes and backslashes keep what they quote") {
  CHECK(split_words("a  b\tc") == Words{"a", "b", "c"});
  CHECK(split_words("  ") == Words{});
  CHECK(split_words("'a b' \"c d\" e\\ f") == Words{"a b", "c d", "e f"});
  CHECK(split_words("x'y'\"z\"") == Words{"xyz"});
  CHECK(split_words("'' \"\"") == Words{"", ""});
  CHECK(split_words("'$HOME \\n' \"\\\"\\\\\\$\\`\\n\"") == Words{"$HOME \\n", "\"\\$`\\n"});
  CHECK(split_words("a;b|c > d") == Words{"a;b|c", ">", "d"});
}

TEST_CASE("unterminated quotes and a trailing backslash are errors") {
  CHECK(error_of([] { split_words("a 'b"); }) == "unterminated ' quote in 'a 'b'");
  CHECK(error_of([] { split_words("a \"b"); }).starts_with("unterminated \" quote"));
  CHECK(error_of([] { split_words("a\\"); }).starts_with("trailing backslash"));
}

TEST_CASE("NAME=PROGRAM ARGS: the first word holds the name and the program") {
  const auto spec =
      parse_command_spec("resize=/usr/bin/python3 '/srv/my handlers/resize.py' --fast");
  CHECK(spec.job_name == "resize");
  CHECK(spec.program == "/usr/bin/python3");
  CHECK(spec.arguments == Words{"/srv/my handlers/resize.py", "--fast"});
  const auto quoted = parse_command_spec("'send mail=./send.sh' a=b");
  CHECK(quoted.job_name == "send mail");
  CHECK(quoted.program == "./send.sh");
  CHECK(quoted.arguments == Words{"a=b"});
  CHECK(parse_command_spec("a=b=c").program == "b=c");
}

TEST_CASE("a command without a name, a program or '=' is refused") {
  CHECK(error_of([] { parse_command_spec(""); }).starts_with("empty command"));
  CHECK(error_of([] { parse_command_spec("/bin/true x=y"); }).find("no '=' in the first word") !=
        std::string::npos);
  CHECK(error_of([] { parse_command_spec("=/bin/true"); }).starts_with("no job name"));
  CHECK(error_of([] { parse_command_spec("name= /bin/true"); }).starts_with("no program"));
}

TEST_CASE("BULLMQ_COMMANDS: one command a line; blanks and comments skipped") {
  CHECK(split_command_lines("a=x\n\n  # note\n b=y 1 \r\n") == Words{"a=x", "b=y 1"});
  CHECK(split_command_lines("") == Words{});
}

TEST_CASE("programs resolve on PATH or as paths; missing or not executable ones are refused") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("command-spec-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tool") << "#!/bin/sh\n";
  std::filesystem::permissions(dir / "tool", std::filesystem::perms::owner_all);
  std::ofstream(dir / "data") << "x";
  std::filesystem::permissions(
      dir / "data", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const std::string path = "/nonexistent:" + dir.string();
  CHECK(resolve_program("tool", path) == (dir / "tool").string());
  CHECK(resolve_program((dir / "tool").string(), "") == (dir / "tool").string());
  CHECK(error_of([&] { resolve_program("data", path); }) ==
        "program 'data' is not an executable file in any PATH directory");
  CHECK(error_of([&] {
          resolve_program((dir / "data").string(), path);
        }).ends_with("is not executable"));
  CHECK(error_of([&] { resolve_program(dir.string(), path); }).ends_with("is not a regular file"));
  CHECK(error_of([&] { resolve_program("/no/such/thing", path); }) ==
        "program '/no/such/thing' does not exist");
  std::filesystem::remove_all(dir);
}

TEST_CASE("sizes: bytes or K, M, G") {
  CHECK(parse_byte_size("1234") == 1234);
  CHECK(parse_byte_size("512K") == 512u << 10);
  CHECK(parse_byte_size("64m") == 64u << 20);
  CHECK(parse_byte_size("2G") == 2ull << 30);
  CHECK(error_of([] { parse_byte_size("12T"); }).starts_with("unknown size suffix"));
  CHECK(error_of([] { parse_byte_size("lots"); }).starts_with("expected a size"));
  CHECK(error_of([] { parse_byte_size("99999999999999999G"); }).ends_with("is too large"));
}
