// Guesses a CSV file's delimiter and shape (rows, columns, header) with a
// quote-aware scan (RFC 4180 quoting, CRLF or LF records). Owned by the
// document extractors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "processing/extraction/deadline.hpp"

namespace processing {

struct CsvShape {
  char delimiter = ',';
  std::uint64_t rows = 0;           // records, the header included
  std::uint64_t columns = 0;        // the widest record
  bool consistent_columns = true;   // every record has `columns` fields
  std::vector<std::string> header;  // first record's fields (capped)
};

CsvShape guess_csv_shape(std::string_view utf8_text, const Deadline& deadline);

}  // namespace processing
