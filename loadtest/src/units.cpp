#include "units.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace porthole::loadtest {

std::string format_ns(std::uint64_t ns) { return format_seconds(static_cast<double>(ns) * 1e-9); }

std::string format_seconds(double s) {
  char buf[32];
  const double a = std::fabs(s);
  if (a == 0) return "0";
  if (a < 1e-6) {
    std::snprintf(buf, sizeof buf, "%.0fns", s * 1e9);
  } else if (a < 1e-3) {
    std::snprintf(buf, sizeof buf, "%.3gus", s * 1e6);
  } else if (a < 1) {
    std::snprintf(buf, sizeof buf, "%.3gms", s * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.3gs", s);
  }
  return buf;
}

std::optional<double> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  std::size_t split = 0;
  while (split < text.size() && (std::isdigit(static_cast<unsigned char>(text[split])) || text[split] == '.')) ++split;
  const auto number = parse_number(text.substr(0, split));
  if (!number) return std::nullopt;
  const auto unit = text.substr(split);
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1e9;
  } else if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "us") {
    scale = 1e3;
  } else if (unit == "ns") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60e9;
  } else if (unit == "h") {
    scale = 3600e9;
  } else {
    return std::nullopt;
  }
  const double ns = *number * scale;
  if (ns > 1e18) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
}

std::optional<double> parse_fraction(std::string_view text) {
  if (!text.empty() && text.back() == '%') {
    auto v = parse_number(text.substr(0, text.size() - 1));
    if (!v || *v > 100) return std::nullopt;
    return *v / 100;
  }
  auto v = parse_number(text);
  if (!v || *v > 1) return std::nullopt;
  return v;
}

}  // namespace porthole::loadtest
