#include "porthole/agent/line_splitter.hpp"

namespace porthole::agent {
namespace {

bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// The length of the valid UTF-8 sequence at text[i], or 0 when there is none.
std::size_t sequence_length(std::string_view text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  std::size_t n = 0;
  unsigned min = 0;
  unsigned code = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) n = 2, min = 0x80, code = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) n = 3, min = 0x800, code = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) n = 4, min = 0x10000, code = c & 0x07;
  else return 0;
  if (i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if (!continuation(b)) return 0;
    code = (code << 6) | (b & 0x3F);
  }
  // Overlong encodings, surrogates and values past U+10FFFF are not valid UTF-8.
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

std::size_t LineSplitter::boundary(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text.size();
  // Step back over at most 3 continuation bytes to the start of the character that straddles.
  for (std::size_t back = 0; back < 4 && back < max; ++back) {
    if (!continuation(static_cast<unsigned char>(text[max - back]))) return max - back == 0 ? max : max - back;
  }
  return max;  // not UTF-8 there anyway
}

std::string LineSplitter::valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto n = sequence_length(text, i);
    if (n == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace porthole::agent
