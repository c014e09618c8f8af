#include "processing/extraction/office/xlsx_workbook.hpp"

#include <map>

#include "processing/extraction/office/ooxml_part.hpp"
#include "processing/support/utf8.hpp"

namespace processing {
namespace {

constexpr std::uint32_t kMaxExcelColumns = 16384;
constexpr std::size_t kDeadlineCheckInterval = 4096;

// Relationship id -> package part name ("rId1" -> "xl/worksheets/sheet1.xml").
std::map<std::string, std::string, std::less<>> read_workbook_relationships(
    const ZipArchive& archive, ArchiveGuard& guard, std::string_view relative_path) {
  std::map<std::string, std::string, std::less<>> targets;
  const auto rels =
      read_xml_part(archive, guard, "xl/_rels/workbook.xml.rels", false, relative_path);
  if (!rels) return targets;
  for (pugi::xml_node node : rels->document.document_element().children()) {
    if (local_name(node) != "Relationship") continue;
    std::string target = node.attribute("Target").as_string();
    target = target.starts_with('/') ? target.substr(1) : "xl/" + target;
    targets[node.attribute("Id").as_string()] = target;
  }
  return targets;
}

pugi::xml_node child_by_local_name(const pugi::xml_node& parent, std::string_view name) {
  for (pugi::xml_node child : parent.children()) {
    if (local_name(child) == name) return child;
  }
  return {};
}

// Text of a shared string item (<si>): its <t> runs, without phonetic runs.
std::string shared_string_text(const pugi::xml_node& item) {
  std::string text;
  walk_xml(
      item,
      [&](const pugi::xml_node& node) {
        if (local_name(node) != "t") return;
        for (pugi::xml_node up = node.parent(); up && up != item; up = up.parent()) {
          if (local_name(up) == "rPh") return;
        }
        text += node.text().get();
      },
      [](const pugi::xml_node&) {});
  return utf8::sanitize(text);
}

}  // namespace

std::vector<XlsxSheetRef> read_xlsx_sheet_list(const ZipArchive& archive, ArchiveGuard& guard,
                                               std::string_view relative_path) {
  const auto workbook = read_xml_part(archive, guard, "xl/workbook.xml", true, relative_path);
  const auto relationships = read_workbook_relationships(archive, guard, relative_path);
  const pugi::xml_node sheets =
      child_by_local_name(workbook->document.document_element(), "sheets");
  std::vector<XlsxSheetRef> list;
  for (pugi::xml_node sheet : sheets.children()) {
    if (local_name(sheet) != "sheet") continue;
    XlsxSheetRef ref;
    ref.name = utf8::sanitize(sheet.attribute("name").as_string());
    const auto target = relationships.find(attribute_by_local_name(sheet, "id").as_string());
    ref.part = target != relationships.end()
                   ? target->second
                   : "xl/worksheets/sheet" + std::to_string(list.size() + 1) + ".xml";
    list.push_back(std::move(ref));
  }
  return list;
}

std::vector<std::string> read_xlsx_shared_strings(const ZipArchive& archive, ArchiveGuard& guard,
                                                  std::string_view relative_path,
                                                  const Deadline& deadline) {
  std::vector<std::string> strings;
  const auto part = read_xml_part(archive, guard, "xl/sharedStrings.xml", false, relative_path);
  if (!part) return strings;
  for (pugi::xml_node item : part->document.document_element().children()) {
    if (local_name(item) != "si") continue;
    if (strings.size() % kDeadlineCheckInterval == 0) deadline.check();
    strings.push_back(shared_string_text(item));
  }
  return strings;
}

std::optional<std::uint32_t> column_of_reference(std::string_view reference) {
  std::uint32_t column = 0;
  std::size_t letters = 0;
  for (const char c : reference) {
    const char upper = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    if (upper < 'A' || upper > 'Z') break;
    column = column * 26 + static_cast<std::uint32_t>(upper - 'A' + 1);
    if (++letters > 3 || column > kMaxExcelColumns) return std::nullopt;
  }
  if (letters == 0) return std::nullopt;
  return column - 1;
}

}  // namespace processing
