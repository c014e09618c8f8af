// UTF-8 helpers shared by the extractors and the command processors:
// validation, repair of invalid sequences, appending code points, and cutting
// text on character boundaries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace processing::utf8 {

inline constexpr char32_t kReplacementCharacter = 0xFFFD;

// Length of the valid UTF-8 sequence starting at text[pos], or 0 when the
// bytes there are not valid UTF-8 (overlong, surrogate, truncated, > U+10FFFF).
std::size_t valid_sequence_length(std::string_view text, std::size_t pos);

bool is_valid(std::string_view text);

// Copy of `text` with every invalid byte replaced by U+FFFD.
std::string sanitize(std::string_view text);

// Appends the UTF-8 encoding of `code_point` (U+FFFD for invalid ones).
void append(std::string& out, char32_t code_point);
// Writes the same to `out` (room for 4 bytes); returns the bytes written.
std::size_t encode(char32_t code_point, char* out);

// UTF-8 of UTF-16 code units in native byte order; lone surrogates become
// U+FFFD, so the result is always valid.
std::string from_utf16(const std::uint16_t* units, std::size_t count);

// Number of characters (code points) of valid UTF-8 text.
std::uint64_t count_characters(std::string_view text);

// Byte length of the longest prefix of valid UTF-8 `text` that holds at most
// `max_characters` characters (never splits a character).
std::size_t prefix_bytes(std::string_view text, std::uint64_t max_characters);

// The longest prefix of valid UTF-8 `text` with at most `max_characters`
// characters (for names and metadata that have no budget of their own).
inline std::string_view truncate(std::string_view text, std::uint64_t max_characters) {
  return text.substr(0, prefix_bytes(text, max_characters));
}

// Decodes the character at text[pos] of valid UTF-8 text and advances pos.
char32_t decode_next(std::string_view text, std::size_t& pos);

}  // namespace processing::utf8
