#include "processing/extraction/text_budget.hpp"

#include "processing/support/utf8.hpp"

namespace processing {

std::string_view TextBudget::take(std::string_view text) {
  const std::size_t kept_bytes = utf8::prefix_bytes(text, remaining_);
  const std::string_view kept = text.substr(0, kept_bytes);
  remaining_ -= utf8::count_characters(kept);
  if (kept_bytes < text.size()) truncated_ = true;
  return kept;
}

std::string_view TextBudget::take(std::string_view text, std::uint64_t characters) {
  if (characters <= remaining_) {
    remaining_ -= characters;
    return text;
  }
  return take(text);
}

}  // namespace processing
