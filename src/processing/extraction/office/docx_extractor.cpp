#include "processing/extraction/office/docx_extractor.hpp"

#include <string>
#include <vector>

#include "processing/extraction/archive/archive_guard.hpp"
#include "processing/extraction/office/ooxml_part.hpp"
#include "processing/extraction/text/text_stats.hpp"
#include "processing/extraction/text_budget.hpp"
#include "processing/support/utf8.hpp"

namespace processing {
namespace {

constexpr std::size_t kDeadlineCheckInterval = 4096;

// Collects paragraph texts in document order. A paragraph nested in another
// one (a text box) is a paragraph of its own, not part of the outer text.
class ParagraphCollector {
 public:
  void enter(const pugi::xml_node& node) {
    if (node.type() != pugi::node_element) return;
    const std::string_view name = local_name(node);
    if (name == "p") {
      open_.emplace_back();
    } else if (!open_.empty()) {
      if (name == "t") open_.back() += node.text().get();
      if (name == "tab") open_.back() += '\t';
      if (name == "br" || name == "cr") open_.back() += '\n';
    }
  }
  void leave(const pugi::xml_node& node) {
    if (node.type() != pugi::node_element || local_name(node) != "p" || open_.empty()) return;
    paragraphs_.push_back(utf8::sanitize(open_.back()));
    open_.pop_back();
  }
  std::vector<std::string>& paragraphs() { return paragraphs_; }

 private:
  std::vector<std::string> open_;
  std::vector<std::string> paragraphs_;
};

std::vector<std::string> collect_paragraphs(const pugi::xml_document& document,
                                            const Deadline& deadline) {
  ParagraphCollector collector;
  std::size_t visited = 0;
  walk_xml(
      document,
      [&](const pugi::xml_node& node) {
        if (++visited % kDeadlineCheckInterval == 0) deadline.check();
        collector.enter(node);
      },
      [&](const pugi::xml_node& node) { collector.leave(node); });
  return std::move(collector.paragraphs());
}

}  // namespace

ExtractorSummary extract_docx(const ExtractionInput& input, JsonWriter& out) {
  const ZipArchive archive(input.data, std::string(input.relative_path));
  ArchiveGuard guard(input.limits, std::string(input.relative_path), input.deadline);
  guard.checked_entries(archive);
  const auto part = read_xml_part(archive, guard, "word/document.xml", true, input.relative_path);
  const std::vector<std::string> paragraphs = collect_paragraphs(part->document, input.deadline);

  ExtractorSummary summary;
  TextBudget budget(input.limits.max_text_chars);
  std::uint64_t characters = 0;
  out.field("paragraph_count", paragraphs.size());
  out.key("paragraphs");
  out.begin_array();
  for (const std::string& paragraph : paragraphs) {
    const TextStats stats = text_stats(paragraph);
    summary.words += static_cast<std::int64_t>(stats.words);
    characters += stats.characters;
    const std::string_view kept = budget.take(paragraph);
    if (!kept.empty()) out.value(kept);
  }
  out.end_array();
  out.field("characters", characters);
  summary.truncated = budget.truncated();
  return summary;
}

}  // namespace processing
