#include "processing/extraction/text/text_encoding.hpp"

#include <array>
#include <vector>

#include "processing/support/utf8.hpp"

namespace processing {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::string_view kUtf16LeBom = "\xFF\xFE";
constexpr std::string_view kUtf16BeBom = "\xFE\xFF";

// Windows-1252 characters for bytes 0x80-0x9F (0 = undefined there).
constexpr std::array<char16_t, 32> kWindows1252High = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

bool is_ascii(std::string_view bytes) {
  for (const char c : bytes) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::uint16_t code_unit(std::string_view bytes, std::size_t pos, bool little_endian) {
  const auto first = static_cast<unsigned char>(bytes[pos]);
  const auto second = static_cast<unsigned char>(bytes[pos + 1]);
  return little_endian ? static_cast<std::uint16_t>(first | (second << 8))
                       : static_cast<std::uint16_t>((first << 8) | second);
}

std::string utf16_to_utf8(std::string_view bytes, bool little_endian) {
  std::vector<std::uint16_t> units(bytes.size() / 2);
  for (std::size_t i = 0; i < units.size(); ++i) units[i] = code_unit(bytes, 2 * i, little_endian);
  std::string out = utf8::from_utf16(units.data(), units.size());
  if (bytes.size() % 2 != 0) utf8::append(out, utf8::kReplacementCharacter);
  return out;
}

DecodedText decode_single_byte(std::string_view bytes) {
  DecodedText text;
  text.encoding = "iso-8859-1";
  text.utf8.reserve(bytes.size() + bytes.size() / 4);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80 && byte <= 0x9F) {
      const char16_t mapped = kWindows1252High[byte - 0x80];
      text.encoding = "windows-1252";
      utf8::append(text.utf8, mapped != 0 ? mapped : utf8::kReplacementCharacter);
    } else {
      utf8::append(text.utf8, byte);
    }
  }
  return text;
}

DecodedText decoded(std::string utf8_text, std::string encoding, bool had_bom) {
  return DecodedText{std::move(utf8_text), std::move(encoding), had_bom};
}

}  // namespace

DecodedText decode_text(std::string_view bytes, std::string_view magic_encoding) {
  if (bytes.starts_with(kUtf8Bom)) {
    return decoded(utf8::sanitize(bytes.substr(kUtf8Bom.size())), "utf-8", true);
  }
  if (bytes.starts_with(kUtf16LeBom)) {
    return decoded(utf16_to_utf8(bytes.substr(2), true), "utf-16le", true);
  }
  if (bytes.starts_with(kUtf16BeBom)) {
    return decoded(utf16_to_utf8(bytes.substr(2), false), "utf-16be", true);
  }
  if (magic_encoding == "utf-16le") return decoded(utf16_to_utf8(bytes, true), "utf-16le", false);
  if (magic_encoding == "utf-16be") return decoded(utf16_to_utf8(bytes, false), "utf-16be", false);
  if (is_ascii(bytes)) return decoded(std::string(bytes), "us-ascii", false);
  if (utf8::is_valid(bytes)) return decoded(std::string(bytes), "utf-8", false);
  return decode_single_byte(bytes);
}

}  // namespace processing
