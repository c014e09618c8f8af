#include "processing/extraction/text/text_extractor.hpp"

#include "processing/extraction/text/csv_shape.hpp"
#include "processing/extraction/text/json_check.hpp"
#include "processing/extraction/text/text_encoding.hpp"
#include "processing/extraction/text/text_stats.hpp"
#include "processing/extraction/text_budget.hpp"

namespace processing {
namespace {

void write_csv_shape(const CsvShape& shape, JsonWriter& out) {
  out.key("csv");
  out.begin_object();
  out.field("delimiter", std::string_view(&shape.delimiter, 1));
  out.field("rows", shape.rows);
  out.field("columns", shape.columns);
  out.field("consistent_columns", shape.consistent_columns);
  out.key("header");
  out.begin_array();
  for (const std::string& field : shape.header) out.value(field);
  out.end_array();
  out.end_object();
}

void write_json_check(const JsonCheck& check, JsonWriter& out) {
  out.key("json");
  out.begin_object();
  out.field("valid", check.valid);
  if (check.valid) {
    out.field("root_type", check.root_type);
  } else {
    out.field("error", check.error);
    out.field("error_offset", check.error_offset);
  }
  out.end_object();
}

// ATX headings: 1 to 6 '#' at the start of a line, then a space or the end.
std::uint64_t count_markdown_headings(std::string_view text) {
  std::uint64_t headings = 0;
  std::size_t line_start = 0;
  while (line_start < text.size()) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    const std::string_view line = text.substr(line_start, line_end - line_start);
    const std::size_t hashes = line.find_first_not_of('#');
    const std::size_t level = hashes == std::string_view::npos ? line.size() : hashes;
    const bool followed_by_space = hashes == std::string_view::npos || line[hashes] == ' ' ||
                                   line[hashes] == '\t' || line[hashes] == '\r';
    if (level >= 1 && level <= 6 && followed_by_space) ++headings;
    line_start = line_end + 1;
  }
  return headings;
}

void write_format_details(const ExtractionInput& input, std::string_view text, JsonWriter& out) {
  switch (input.content.text_format) {
    case TextFormat::csv:
      write_csv_shape(guess_csv_shape(text, input.deadline), out);
      break;
    case TextFormat::json:
      write_json_check(check_json(text), out);
      break;
    case TextFormat::markdown:
      out.key("markdown");
      out.begin_object();
      out.field("headings", count_markdown_headings(text));
      out.end_object();
      break;
    case TextFormat::plain:
      break;
  }
}

}  // namespace

ExtractorSummary extract_text(const ExtractionInput& input, JsonWriter& out) {
  const DecodedText decoded = decode_text(input.data, input.content.magic.encoding);
  input.deadline.check();
  const TextStats stats = text_stats(decoded.utf8);
  input.deadline.check();
  TextBudget budget(input.limits.max_text_chars);

  out.field("format", text_format_name(input.content.text_format));
  out.field("encoding", decoded.encoding);
  out.field("bom", decoded.had_bom);
  out.field("characters", stats.characters);
  out.field("lines", stats.lines);
  out.field("text", budget.take(decoded.utf8));
  write_format_details(input, decoded.utf8, out);

  ExtractorSummary summary;
  summary.words = static_cast<std::int64_t>(stats.words);
  summary.truncated = budget.truncated();
  return summary;
}

}  // namespace processing
