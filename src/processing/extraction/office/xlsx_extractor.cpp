#include "processing/extraction/office/xlsx_extractor.hpp"

#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "processing/extraction/archive/archive_guard.hpp"
#include "processing/extraction/office/ooxml_part.hpp"
#include "processing/extraction/office/xlsx_workbook.hpp"
#include "processing/extraction/text/text_stats.hpp"
#include "processing/extraction/text_budget.hpp"
#include "processing/support/utf8.hpp"

namespace processing {
namespace {

constexpr std::size_t kDeadlineCheckInterval = 1024;
// Sheet names and dimension references have no text budget; cap them.
constexpr std::uint64_t kMaxNameCharacters = 1024;

struct SheetSummary {
  std::string dimension;
  std::uint64_t rows = 0;     // <row> elements holding at least one cell
  std::uint64_t columns = 0;  // highest column used + 1
  std::uint64_t words = 0;
  std::vector<std::vector<std::string>> preview;
};

std::string inline_string_text(const pugi::xml_node& cell) {
  std::string text;
  for (pugi::xml_node child : cell.children()) {
    if (local_name(child) != "is") continue;
    walk_xml(
        child,
        [&](const pugi::xml_node& node) {
          if (local_name(node) == "t") text += node.text().get();
        },
        [](const pugi::xml_node&) {});
  }
  return text;
}

std::string child_text(const pugi::xml_node& cell, std::string_view name) {
  for (pugi::xml_node child : cell.children()) {
    if (local_name(child) == name) return child.text().get();
  }
  return {};
}

// A cell's value as text: shared strings resolved, booleans as TRUE/FALSE.
std::string cell_value(const pugi::xml_node& cell, const std::vector<std::string>& shared) {
  const std::string_view type = cell.attribute("t").as_string();
  if (type == "inlineStr") return utf8::sanitize(inline_string_text(cell));
  const std::string value = child_text(cell, "v");
  if (type == "s") {
    std::size_t index = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), index);
    const bool valid = error == std::errc() && end == value.data() + value.size();
    return valid && index < shared.size() ? shared[index] : std::string();
  }
  if (type == "b") return value == "1" ? "TRUE" : "FALSE";
  return utf8::sanitize(value);
}

class SheetReader {
 public:
  SheetReader(const ExtractionInput& input, const std::vector<std::string>& shared,
              TextBudget& budget)
      : input_(input), shared_(shared), budget_(budget) {}

  SheetSummary read(const pugi::xml_document& document) {
    const pugi::xml_node worksheet = document.document_element();
    for (pugi::xml_node child : worksheet.children()) {
      const std::string_view name = local_name(child);
      if (name == "dimension") summary_.dimension = child.attribute("ref").as_string();
      if (name == "sheetData") read_rows(child);
    }
    return std::move(summary_);
  }

 private:
  void read_rows(const pugi::xml_node& sheet_data) {
    for (pugi::xml_node row : sheet_data.children()) {
      if (local_name(row) != "row") continue;
      if (++rows_seen_ % kDeadlineCheckInterval == 0) input_.deadline.check();
      read_row(row);
    }
  }

  void read_row(const pugi::xml_node& row) {
    const bool in_preview = summary_.preview.size() < input_.limits.max_preview_rows;
    std::vector<std::string> preview_row;
    std::uint32_t next_column = 0;
    bool has_cells = false;
    for (pugi::xml_node cell : row.children()) {
      if (local_name(cell) != "c") continue;
      has_cells = true;
      const std::uint32_t column =
          column_of_reference(cell.attribute("r").as_string()).value_or(next_column);
      next_column = column + 1;
      summary_.columns = std::max<std::uint64_t>(summary_.columns, next_column);
      const std::string value = cell_value(cell, shared_);
      summary_.words += count_words(value);
      if (in_preview && column < kMaxPreviewColumns) place(preview_row, column, value);
    }
    if (!has_cells) return;
    ++summary_.rows;
    if (in_preview) summary_.preview.push_back(std::move(preview_row));
  }

  void place(std::vector<std::string>& preview_row, std::uint32_t column,
             const std::string& value) {
    if (preview_row.size() <= column) preview_row.resize(column + 1);
    preview_row[column] = std::string(budget_.take(value));
  }

  const ExtractionInput& input_;
  const std::vector<std::string>& shared_;
  TextBudget& budget_;
  SheetSummary summary_;
  std::uint64_t rows_seen_ = 0;
};

void write_sheet(const XlsxSheetRef& ref, const SheetSummary& sheet, JsonWriter& out) {
  out.begin_object();
  out.key("name");
  out.capped_value(ref.name, kMaxNameCharacters);
  out.key("dimension");
  out.capped_value(sheet.dimension, kMaxNameCharacters);
  out.field("rows", sheet.rows);
  out.field("columns", sheet.columns);
  out.key("preview");
  out.begin_array();
  for (const auto& row : sheet.preview) {
    out.begin_array();
    for (const std::string& value : row) out.value(value);
    out.end_array();
  }
  out.end_array();
  out.end_object();
}

}  // namespace

ExtractorSummary extract_xlsx(const ExtractionInput& input, JsonWriter& out) {
  const std::string relative_path(input.relative_path);
  const ZipArchive archive(input.data, relative_path);
  ArchiveGuard guard(input.limits, relative_path, input.deadline);
  guard.checked_entries(archive);
  const std::vector<XlsxSheetRef> sheets = read_xlsx_sheet_list(archive, guard, relative_path);
  const std::vector<std::string> shared =
      read_xlsx_shared_strings(archive, guard, relative_path, input.deadline);

  ExtractorSummary summary;
  TextBudget budget(input.limits.max_text_chars);
  out.field("sheet_count", sheets.size());
  out.field("shared_strings", shared.size());
  out.key("sheets");
  out.begin_array();
  for (const XlsxSheetRef& ref : sheets) {
    input.deadline.check();
    const auto part = read_xml_part(archive, guard, ref.part, true, relative_path);
    const SheetSummary sheet = SheetReader(input, shared, budget).read(part->document);
    summary.words += static_cast<std::int64_t>(sheet.words);
    write_sheet(ref, sheet, out);
  }
  out.end_array();
  summary.truncated = budget.truncated();
  return summary;
}

}  // namespace processing
