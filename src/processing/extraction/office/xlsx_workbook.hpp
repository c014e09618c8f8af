// The workbook-level parts of an XLSX package: the sheet list (names from
// xl/workbook.xml, part names through xl/_rels/workbook.xml.rels), the shared
// strings table, and A1-style cell references. Owned by the document
// extractors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "processing/extraction/archive/archive_guard.hpp"
#include "processing/extraction/archive/zip_archive.hpp"
#include "processing/extraction/deadline.hpp"

namespace processing {

struct XlsxSheetRef {
  std::string name;  // as shown on the sheet's tab
  std::string part;  // e.g. "xl/worksheets/sheet1.xml"
};

std::vector<XlsxSheetRef> read_xlsx_sheet_list(const ZipArchive& archive, ArchiveGuard& guard,
                                               std::string_view relative_path);

// Empty when the workbook has no shared strings part.
std::vector<std::string> read_xlsx_shared_strings(const ZipArchive& archive, ArchiveGuard& guard,
                                                  std::string_view relative_path,
                                                  const Deadline& deadline);

// Zero-based column of an A1-style reference ("C7" -> 2); nullopt when the
// reference has no valid column letters (beyond XFD = 16384 columns).
std::optional<std::uint32_t> column_of_reference(std::string_view reference);

}  // namespace processing
