// The max_text_chars budget shared by all text an extraction stores in its
// JSON (a PDF's pages, a DOCX's paragraphs, an XLSX preview's cells). Text is
// cut on a UTF-8 character boundary. Owned by the document extractors.
#pragma once

#include <cstdint>
#include <string_view>

namespace processing {

class TextBudget {
 public:
  explicit TextBudget(std::uint64_t max_characters) : remaining_(max_characters) {}

  // The prefix of valid UTF-8 `text` that still fits; spends it. Once
  // something was cut, truncated() is true.
  std::string_view take(std::string_view text);
  // The same for text whose character count the caller has already made.
  std::string_view take(std::string_view text, std::uint64_t characters);
  bool truncated() const { return truncated_; }
  bool exhausted() const { return remaining_ == 0; }

 private:
  std::uint64_t remaining_;
  bool truncated_ = false;
};

}  // namespace processing
