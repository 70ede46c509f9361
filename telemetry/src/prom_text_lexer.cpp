#include "prom_text_lexer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace porthole::telemetry::detail {
namespace {

constexpr std::size_t kMaxQuotedBytes = 80;
// TextSerializer 1.0.1 prints doubles with 16 significant digits, so DBL_MAX comes out as
// 1.797693134862316e+308, which no parser reads back. Larger values are rejected on input.
constexpr int kSerializerDigits = 16;
constexpr double kLargestPrintable = 1.797693134862315e308;

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

std::size_t count_digits(std::string_view s, std::size_t& pos) {
  const std::size_t start = pos;
  while (pos < s.size() && is_digit(s[pos])) ++pos;
  return pos - start;
}

std::optional<std::int64_t> parse_timestamp(std::string_view token) {
  std::int64_t ts = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), ts);
  if (ec != std::errc{} || end != token.data() + token.size()) return std::nullopt;
  return ts;
}

// Reads a quoted label value; `pos` is just past the opening quote and ends past the closing one.
std::string lex_label_value(std::string_view line, std::size_t& pos, std::size_t max_bytes,
                            std::string& value) {
  while (pos < line.size()) {
    char c = line[pos++];
    if (c == '"') return {};
    if (c == '\\') {
      if (pos == line.size()) break;
      const char e = line[pos++];
      if (e == '\\' || e == '"') {
        c = e;
      } else if (e == 'n') {
        c = '\n';
      } else {
        return "invalid escape sequence " + quoted(std::string_view(&line[pos - 2], 2));
      }
    }
    if (value.size() == max_bytes) return "value over " + std::to_string(max_bytes) + " bytes";
    value.push_back(c);
  }
  return "unterminated value";
}

// Reads `name="value",...}`; `pos` is just past the `{` and ends past the `}`.
std::string lex_label_set(std::string_view line, std::size_t& pos, const PromParseLimits& limits,
                          Labels& labels) {
  for (;;) {
    pos = skip_blanks(line, pos);
    if (pos == line.size()) return "unterminated label set";
    if (line[pos] == '}') break;  // also accepts a trailing comma
    std::size_t end = pos;
    while (end < line.size() && !is_blank(line[end]) && line[end] != '=' && line[end] != ',' &&
           line[end] != '}') {
      ++end;
    }
    const std::string_view name = line.substr(pos, end - pos);
    if (!is_label_name(name)) return "invalid label name " + quoted(name);
    if (name.starts_with("__")) return "reserved label name " + quoted(name) + " (leading '__')";
    if (labels.size() == limits.max_labels_per_series) {
      return "more than " + std::to_string(limits.max_labels_per_series) + " labels";
    }
    pos = skip_blanks(line, end);
    if (pos == line.size() || line[pos] != '=') return "expected '=' after label " + quoted(name);
    pos = skip_blanks(line, pos + 1);
    if (pos == line.size() || line[pos] != '"') {
      return "expected '\"' to open the value of label " + quoted(name);
    }
    ++pos;
    std::string value;
    if (auto err = lex_label_value(line, pos, limits.max_label_value_bytes, value); !err.empty()) {
      return "label " + quoted(name) + ": " + err;
    }
    if (!is_valid_utf8(value)) return "label " + quoted(name) + ": value is not valid UTF-8";
    labels.push_back({std::string(name), std::move(value)});
    pos = skip_blanks(line, pos);
    if (pos == line.size()) return "unterminated label set";
    if (line[pos] == ',') {
      ++pos;
    } else if (line[pos] != '}') {
      return "expected ',' or '}' after the value of label " + quoted(name);
    }
  }
  ++pos;
  std::sort(labels.begin(), labels.end());
  const auto dup = std::adjacent_find(
      labels.begin(), labels.end(), [](const auto& a, const auto& b) { return a.name == b.name; });
  if (dup != labels.end()) return "duplicate label name " + quoted(dup->name);
  return {};
}

}  // namespace

std::size_t skip_blanks(std::string_view line, std::size_t pos) {
  while (pos < line.size() && is_blank(line[pos])) ++pos;
  return pos;
}

std::size_t token_end(std::string_view line, std::size_t pos) {
  while (pos < line.size() && !is_blank(line[pos])) ++pos;
  return pos;
}

bool is_metric_name(std::string_view name) {
  if (name.empty() || is_digit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == ':'; });
}

bool is_label_name(std::string_view name) {
  if (name.empty() || is_digit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      extra = 1;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      extra = 2;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      extra = 3;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (text.size() - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr std::uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;  // overlong, beyond Unicode, or a surrogate
    }
    i += extra + 1;
  }
  return true;
}

std::optional<double> parse_value(std::string_view token) {
  if (iequals(token, "nan")) return std::numeric_limits<double>::quiet_NaN();
  std::string_view body = token;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (iequals(body, "inf") || iequals(body, "infinity")) {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  // Our own grammar check first: from_chars would also take "inf", "nan" and hex in other modes.
  std::size_t pos = 0;
  std::size_t digits = count_digits(body, pos);
  if (pos < body.size() && body[pos] == '.') {
    ++pos;
    digits += count_digits(body, pos);
  }
  if (digits == 0) return std::nullopt;
  if (pos < body.size() && (body[pos] == 'e' || body[pos] == 'E')) {
    ++pos;
    if (pos < body.size() && (body[pos] == '+' || body[pos] == '-')) ++pos;
    if (count_digits(body, pos) == 0) return std::nullopt;
  }
  if (pos != body.size()) return std::nullopt;
  double value = 0.0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (ec != std::errc{} || end != body.data() + body.size()) return std::nullopt;
  if (value > kLargestPrintable) return std::nullopt;
  return negative ? -value : value;
}

double as_serialized(double value) {
  if (!std::isfinite(value)) return value;
  char buffer[64];
  const auto printed = std::to_chars(buffer, buffer + sizeof buffer, value,
                                     std::chars_format::general, kSerializerDigits);
  double result = value;
  std::from_chars(buffer, printed.ptr, result);  // in range: parse_value capped the magnitude
  return result;
}

std::string lex_sample_line(std::string_view line, const PromParseLimits& limits, SampleLine& out) {
  std::size_t pos = skip_blanks(line, 0);
  std::size_t end = pos;
  while (end < line.size() && !is_blank(line[end]) && line[end] != '{') ++end;
  out.name = line.substr(pos, end - pos);
  if (!is_metric_name(out.name)) return "invalid metric name " + quoted(out.name);
  pos = skip_blanks(line, end);
  if (pos < line.size() && line[pos] == '{') {
    ++pos;
    if (auto err = lex_label_set(line, pos, limits, out.labels); !err.empty()) {
      return quoted(out.name) + ": " + err;
    }
    pos = skip_blanks(line, pos);
  }
  if (pos == line.size()) return "missing value for " + quoted(out.name);
  end = token_end(line, pos);
  const auto value = parse_value(line.substr(pos, end - pos));
  if (!value) return "invalid value " + quoted(line.substr(pos, end - pos));
  out.value = *value;
  pos = skip_blanks(line, end);
  if (pos == line.size()) return {};
  end = token_end(line, pos);
  out.timestamp_ms = parse_timestamp(line.substr(pos, end - pos));
  if (!out.timestamp_ms) return "invalid timestamp " + quoted(line.substr(pos, end - pos));
  pos = skip_blanks(line, end);
  if (pos != line.size()) return "unexpected text after the timestamp " + quoted(line.substr(pos));
  return {};
}

std::string check_help_text(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') continue;
    if (i + 1 == text.size()) return "HELP text ends in a lone '\\'";
    if (text[i + 1] != '\\' && text[i + 1] != 'n') {
      return "invalid escape sequence " + quoted(text.substr(i, 2)) + " in HELP text";
    }
    ++i;
  }
  if (!is_valid_utf8(text)) return "HELP text is not valid UTF-8";
  return {};
}

std::string quoted(std::string_view token) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (std::size_t i = 0; i < token.size() && i < kMaxQuotedBytes; ++i) {
    const auto c = static_cast<unsigned char>(token[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  if (token.size() > kMaxQuotedBytes) out += "...";
  out.push_back('\'');
  return out;
}

}  // namespace porthole::telemetry::detail
