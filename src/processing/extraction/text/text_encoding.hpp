// Detects a text file's encoding (BOM, valid UTF-8, UTF-16 as reported by
// libmagic, else Latin-1 / Windows-1252) and converts the bytes to UTF-8.
// Owned by the document extractors.
#pragma once

#include <string>
#include <string_view>

namespace processing {

struct DecodedText {
  std::string utf8;  // without BOM
  std::string
      encoding;  // "utf-8", "us-ascii", "utf-16le", "utf-16be", "iso-8859-1", "windows-1252"
  bool had_bom = false;
};

// `magic_encoding` is libmagic's answer ("utf-16le", ...), used for UTF-16
// without a BOM.
DecodedText decode_text(std::string_view bytes, std::string_view magic_encoding);

}  // namespace processing
