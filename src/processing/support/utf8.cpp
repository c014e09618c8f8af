#include "processing/support/utf8.hpp"

#include <cstring>

namespace processing::utf8 {
namespace {

bool is_continuation(unsigned char byte) {
  return (byte & 0xC0) == 0x80;
}

// Expected sequence length from the lead byte, 0 for bytes that cannot lead.
std::size_t sequence_length_from_lead(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The second byte's allowed range excludes overlongs, surrogates and > U+10FFFF.
bool second_byte_allowed(unsigned char lead, unsigned char second) {
  if (lead == 0xE0) return second >= 0xA0 && second <= 0xBF;
  if (lead == 0xED) return second >= 0x80 && second <= 0x9F;
  if (lead == 0xF0) return second >= 0x90 && second <= 0xBF;
  if (lead == 0xF4) return second >= 0x80 && second <= 0x8F;
  return is_continuation(second);
}

// Bytes from `pos` on that are plain ASCII, counted eight at a time: most
// extracted text is, and a byte-by-byte decode of it dominated the checks.
std::size_t ascii_run(std::string_view text, std::size_t pos) {
  const std::size_t start = pos;
  while (pos + 8 <= text.size()) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + pos, 8);
    if (word & 0x8080808080808080ULL) break;
    pos += 8;
  }
  while (pos < text.size() && static_cast<unsigned char>(text[pos]) < 0x80) ++pos;
  return pos - start;
}

}  // namespace

std::size_t valid_sequence_length(std::string_view text, std::size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  const std::size_t length = sequence_length_from_lead(lead);
  if (length <= 1) return length;
  if (pos + length > text.size()) return 0;
  if (!second_byte_allowed(lead, static_cast<unsigned char>(text[pos + 1]))) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (!is_continuation(static_cast<unsigned char>(text[pos + i]))) return 0;
  }
  return length;
}

bool is_valid(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    pos += ascii_run(text, pos);
    if (pos == text.size()) break;
    const std::size_t length = valid_sequence_length(text, pos);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

std::string sanitize(std::string_view text) {
  if (is_valid(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 16);
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t length = valid_sequence_length(text, pos);
    if (length == 0) {
      append(out, kReplacementCharacter);
      ++pos;
    } else {
      out.append(text.substr(pos, length));
      pos += length;
    }
  }
  return out;
}

std::string from_utf16(const std::uint16_t* units, std::size_t count) {
  // At most three bytes per unit (a surrogate pair: two units, four bytes),
  // written in place and then cut to size.
  std::string out(count * 3, '\0');
  char* at = out.data();
  for (std::size_t i = 0; i < count; ++i) {
    char32_t c = units[i];
    if (c < 0x80) {
      *at++ = static_cast<char>(c);
      continue;
    }
    if (c >= 0xD800 && c <= 0xDFFF) {
      const bool paired =
          c <= 0xDBFF && i + 1 < count && units[i + 1] >= 0xDC00 && units[i + 1] <= 0xDFFF;
      if (paired) {
        c = 0x10000 + ((c - 0xD800) << 10) + (units[++i] - 0xDC00);
      } else {
        c = kReplacementCharacter;  // a lone surrogate
      }
    }
    at += encode(c, at);
  }
  out.resize(static_cast<std::size_t>(at - out.data()));
  return out;
}

std::size_t encode(char32_t code_point, char* out) {
  if (code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    code_point = kReplacementCharacter;
  }
  if (code_point < 0x80) {
    out[0] = static_cast<char>(code_point);
    return 1;
  }
  if (code_point < 0x800) {
    out[0] = static_cast<char>(0xC0 | (code_point >> 6));
    out[1] = static_cast<char>(0x80 | (code_point & 0x3F));
    return 2;
  }
  if (code_point < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (code_point >> 12));
    out[1] = static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (code_point & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (code_point >> 18));
  out[1] = static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (code_point & 0x3F));
  return 4;
}

void append(std::string& out, char32_t code_point) {
  char bytes[4];
  out.append(bytes, encode(code_point, bytes));
}

std::uint64_t count_characters(std::string_view text) {
  std::uint64_t count = 0;
  for (const char c : text) {
    if (!is_continuation(static_cast<unsigned char>(c))) ++count;
  }
  return count;
}

std::size_t prefix_bytes(std::string_view text, std::uint64_t max_characters) {
  std::uint64_t characters = 0;
  for (std::size_t pos = 0; pos < text.size(); ++pos) {
    if (is_continuation(static_cast<unsigned char>(text[pos]))) continue;
    if (characters == max_characters) return pos;
    ++characters;
  }
  return text.size();
}

char32_t decode_next(std::string_view text, std::size_t& pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  std::size_t length = sequence_length_from_lead(lead);
  if (length == 0 || pos + length > text.size()) {
    ++pos;
    return kReplacementCharacter;
  }
  char32_t code_point = length == 1 ? lead : lead & (0x7F >> length);
  for (std::size_t i = 1; i < length; ++i) {
    code_point = (code_point << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  }
  pos += length;
  return code_point;
}

}  // namespace processing::utf8
