#include "processing/command/command_spec.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <initializer_list>
#include <stdexcept>

namespace processing {
namespace {

// Appends the parts: GCC 12 (Release) reports a false -Wrestrict on
// "literal" + std::string&&.
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out.append(part);
  return out;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string quoted(std::string_view text) {
  std::string out = "'";
  out.append(text);
  out += "'";
  return out;
}

// Why `path` cannot be executed, or empty when it can.
std::string unusable_reason(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return "does not exist";
  if (!S_ISREG(info.st_mode)) return "is not a regular file";
  if (::access(path.c_str(), X_OK) != 0) return "is not executable";
  return {};
}

}  // namespace

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (is_blank(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      ++i;
      continue;
    }
    in_word = true;
    if (c == '\'') {
      const std::size_t end = text.find('\'', i + 1);
      if (end == std::string_view::npos) {
        throw std::invalid_argument(cat({"unterminated ' quote in ", quoted(text)}));
      }
      word.append(text.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (c == '"') {
      ++i;
      for (;;) {
        if (i >= text.size())
          throw std::invalid_argument(cat({"unterminated \" quote in ", quoted(text)}));
        const char d = text[i];
        if (d == '"') {
          ++i;
          break;
        }
        if (d == '\\' && i + 1 < text.size()) {
          const char next = text[i + 1];
          if (next == '"' || next == '\\' || next == '$' || next == '`') {
            word += next;
            i += 2;
            continue;
          }
        }
        word += d;
        ++i;
      }
    } else if (c == '\\') {
      if (i + 1 >= text.size())
        throw std::invalid_argument(cat({"trailing backslash in ", quoted(text)}));
      word += text[i + 1];
      i += 2;
    } else {
      word += c;
      ++i;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

CommandSpec parse_command_spec(std::string_view text) {
  std::vector<std::string> words = split_words(text);
  if (words.empty()) throw std::invalid_argument("empty command: expected NAME=PROGRAM [ARGS…]");
  const std::string& first = words.front();
  const std::size_t equals = first.find('=');
  if (equals == std::string::npos) {
    throw std::invalid_argument(
        cat({"expected NAME=PROGRAM [ARGS…], got ", quoted(text), " (no '=' in the first word)"}));
  }
  CommandSpec spec;
  spec.job_name = first.substr(0, equals);
  spec.program = first.substr(equals + 1);
  if (spec.job_name.empty())
    throw std::invalid_argument(cat({"no job name before '=' in ", quoted(text)}));
  if (spec.program.empty())
    throw std::invalid_argument(cat({"no program after '=' in ", quoted(text)}));
  spec.arguments.assign(words.begin() + 1, words.end());
  return spec;
}

std::vector<std::string> split_command_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
    while (!line.empty() && is_blank(line.back())) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    lines.emplace_back(line);
  }
  return lines;
}

std::string resolve_program(const std::string& program, std::string_view search_path) {
  if (program.find('/') != std::string::npos) {
    if (std::string reason = unusable_reason(program); !reason.empty()) {
      throw std::invalid_argument(cat({"program ", quoted(program), " ", reason}));
    }
    return program;
  }
  while (true) {
    const std::size_t colon = search_path.find(':');
    const std::string_view directory = search_path.substr(0, colon);
    std::string candidate(directory.empty() ? std::string_view(".") : directory);
    candidate += '/';
    candidate += program;
    if (unusable_reason(candidate).empty()) return candidate;
    if (colon == std::string_view::npos) break;
    search_path.remove_prefix(colon + 1);
  }
  throw std::invalid_argument(
      cat({"program ", quoted(program), " is not an executable file in any PATH directory"}));
}

std::uint64_t parse_byte_size(std::string_view text) {
  std::uint64_t value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [next, error] = std::from_chars(begin, end, value);
  if (error != std::errc() || next == begin) {
    throw std::invalid_argument(
        cat({"expected a size such as 1048576, 512K, 64M or 2G, got ", quoted(text)}));
  }
  std::string_view suffix(next, static_cast<std::size_t>(end - next));
  unsigned shift = 0;
  if (suffix == "K" || suffix == "k") {
    shift = 10;
  } else if (suffix == "M" || suffix == "m") {
    shift = 20;
  } else if (suffix == "G" || suffix == "g") {
    shift = 30;
  } else if (!suffix.empty()) {
    throw std::invalid_argument(cat({"unknown size suffix in ", quoted(text), " (use K, M or G)"}));
  }
  if (shift != 0 && value > (UINT64_MAX >> shift)) {
    throw std::invalid_argument(cat({"size ", quoted(text), " is too large"}));
  }
  return value << shift;
}

}  // namespace processing
