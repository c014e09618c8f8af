// libmagic, asked about a file's bytes: its MIME type and its encoding
// ("us-ascii", "utf-8", "utf-16le", "binary", ...). One magic handle per
// thread (libmagic handles are not thread-safe). Owned by the document
// extractors.
#pragma once

#include <string>
#include <string_view>

namespace processing {

struct MagicAnswer {
  std::string mime_type;  // e.g. "application/pdf"
  std::string encoding;   // e.g. "binary", "utf-8"
};

// Throws std::runtime_error when libmagic's database cannot be loaded.
MagicAnswer probe_magic(std::string_view data);

}  // namespace processing
