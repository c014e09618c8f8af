// SHA-256 of a file's content (OpenSSL EVP), as lowercase hex. Owned by the
// document extractors.
#pragma once

#include <string>
#include <string_view>

namespace processing {

std::string sha256_hex(std::string_view data);

}  // namespace processing
