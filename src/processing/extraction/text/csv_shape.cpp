#include "processing/extraction/text/csv_shape.hpp"

#include <algorithm>
#include <array>

#include "processing/support/utf8.hpp"

namespace processing {
namespace {

constexpr std::array<char, 4> kCandidateDelimiters = {',', ';', '\t', '|'};
constexpr std::uint64_t kSampleRecords = 50;
constexpr std::size_t kMaxHeaderFields = 256;
constexpr std::size_t kMaxHeaderFieldBytes = 256;
constexpr std::size_t kDeadlineCheckInterval = 1 << 20;

struct CsvScan {
  std::uint64_t records = 0;
  std::uint64_t min_columns = 0;
  std::uint64_t max_columns = 0;
  std::vector<std::string> first_record;
};

class CsvScanner {
 public:
  CsvScanner(char delimiter, std::uint64_t max_records)
      : delimiter_(delimiter), max_records_(max_records) {}

  CsvScan scan(std::string_view text, const Deadline* deadline) {
    for (std::size_t pos = 0; pos < text.size() && scan_.records < max_records_; ++pos) {
      if (deadline != nullptr && pos % kDeadlineCheckInterval == 0) deadline->check();
      consume(text, pos);
    }
    if (record_has_content_ && scan_.records < max_records_) end_record();
    return std::move(scan_);
  }

 private:
  void consume(std::string_view text, std::size_t& pos) {
    const char c = text[pos];
    record_has_content_ = true;
    if (in_quotes_) {
      if (c != '"') return keep(c);
      if (pos + 1 < text.size() && text[pos + 1] == '"') {
        ++pos;
        return keep('"');
      }
      in_quotes_ = false;
    } else if (c == '"' && at_field_start_) {
      in_quotes_ = true;
      at_field_start_ = false;
    } else if (c == delimiter_) {
      end_field();
    } else if (c == '\n') {
      end_record();
    } else if (c != '\r') {
      keep(c);
    }
  }

  void keep(char c) {
    at_field_start_ = false;
    if (scan_.records == 0 && field_.size() < kMaxHeaderFieldBytes) field_ += c;
  }

  void end_field() {
    ++fields_;
    if (scan_.records == 0 && scan_.first_record.size() < kMaxHeaderFields) {
      field_.resize(utf8::prefix_bytes(utf8::sanitize(field_), kMaxHeaderFieldBytes));
      scan_.first_record.push_back(std::move(field_));
    }
    field_.clear();
    at_field_start_ = true;
  }

  void end_record() {
    end_field();
    scan_.min_columns = scan_.records == 0 ? fields_ : std::min(scan_.min_columns, fields_);
    scan_.max_columns = std::max(scan_.max_columns, fields_);
    ++scan_.records;
    fields_ = 0;
    record_has_content_ = false;
  }

  char delimiter_;
  std::uint64_t max_records_;
  CsvScan scan_;
  std::string field_;
  std::uint64_t fields_ = 0;
  bool in_quotes_ = false;
  bool at_field_start_ = true;
  bool record_has_content_ = false;
};

// Prefers delimiters that split every sampled record the same way into the
// most fields; a delimiter that never splits scores zero.
std::uint64_t delimiter_score(const CsvScan& sample) {
  if (sample.max_columns < 2) return 0;
  const std::uint64_t consistency_bonus = sample.min_columns == sample.max_columns ? 1000 : 0;
  return consistency_bonus + sample.min_columns;
}

char guess_delimiter(std::string_view text) {
  char best = ',';
  std::uint64_t best_score = 0;
  for (const char candidate : kCandidateDelimiters) {
    const std::uint64_t score =
        delimiter_score(CsvScanner(candidate, kSampleRecords).scan(text, nullptr));
    if (score > best_score) {
      best = candidate;
      best_score = score;
    }
  }
  return best;
}

}  // namespace

CsvShape guess_csv_shape(std::string_view text, const Deadline& deadline) {
  CsvShape shape;
  shape.delimiter = guess_delimiter(text);
  CsvScan scan = CsvScanner(shape.delimiter, UINT64_MAX).scan(text, &deadline);
  shape.rows = scan.records;
  shape.columns = scan.max_columns;
  shape.consistent_columns = scan.min_columns == scan.max_columns;
  shape.header = std::move(scan.first_record);
  return shape;
}

}  // namespace processing
