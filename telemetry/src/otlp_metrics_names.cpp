// OTLP metric names, units and attribute keys as Prometheus names (the OpenTelemetry
// Prometheus-compatibility spec's "Metric Metadata" and "Metric Attributes"; unit words as the
// OpenTelemetry Collector's Prometheus translator spells them).
#include <array>
#include <utility>

#include "porthole/telemetry/otlp_metrics_prometheus.hpp"

namespace porthole::telemetry {
namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Characters outside [a-zA-Z0-9_] (and `:` where allowed) become `_`, runs of `_` one `_`, and a
// leading digit gets a `_` before it.
std::string sanitize(std::string_view in, bool allow_colon) {
  std::string out;
  out.reserve(in.size() + 1);
  if (!in.empty() && is_digit(in.front())) out.push_back('_');
  for (char c : in) {
    const bool ok = is_alpha(c) || is_digit(c) || (allow_colon && c == ':');
    if (ok) {
      out.push_back(c);
    } else if (out.empty() || out.back() != '_') {
      out.push_back('_');
    }
  }
  return out;
}

constexpr std::array<std::pair<std::string_view, std::string_view>, 28> kUnits{{
    {"d", "days"},          {"h", "hours"},          {"min", "minutes"},     {"s", "seconds"},
    {"ms", "milliseconds"}, {"us", "microseconds"},  {"ns", "nanoseconds"},  {"By", "bytes"},
    {"KiBy", "kibibytes"},  {"MiBy", "mebibytes"},   {"GiBy", "gibibytes"},  {"TiBy", "tibibytes"},
    {"KBy", "kilobytes"},   {"MBy", "megabytes"},    {"GBy", "gigabytes"},   {"TBy", "terabytes"},
    {"m", "meters"},        {"V", "volts"},          {"A", "amperes"},       {"J", "joules"},
    {"W", "watts"},         {"g", "grams"},          {"Cel", "celsius"},     {"Hz", "hertz"},
    {"1", "ratio"},         {"%", "percent"},        {"bit", "bits"},        {"Bit", "bits"},
}};
constexpr std::array<std::pair<std::string_view, std::string_view>, 7> kPerUnits{{
    {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"}, {"w", "week"}, {"mo", "month"}, {"y", "year"},
}};

template <std::size_t N>
std::string word(std::string_view unit, const std::array<std::pair<std::string_view, std::string_view>, N>& table) {
  for (const auto& [symbol, name] : table) {
    if (unit == symbol) return std::string(name);
  }
  std::string out = sanitize(unit, false);
  while (!out.empty() && out.front() == '_') out.erase(out.begin());
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether the `_`-separated words of `name` contain those of `unit` in a row.
bool holds_words(std::string_view name, std::string_view unit) {
  const std::string padded_name = "_" + std::string(name) + "_";
  return padded_name.find("_" + std::string(unit) + "_") != std::string::npos;
}

}  // namespace

std::string prometheus_unit(std::string_view unit) {
  // Annotations in braces are counts of things: unitless for Prometheus.
  std::string plain;
  for (std::size_t i = 0; i < unit.size(); ++i) {
    if (unit[i] == '{') {
      const auto close = unit.find('}', i);
      if (close == std::string_view::npos) break;
      i = close;
      continue;
    }
    plain.push_back(unit[i]);
  }
  const std::string_view u = trim(plain);
  const auto slash = u.find('/');
  const std::string main = word(trim(u.substr(0, slash)), kUnits);
  if (slash == std::string_view::npos) return main;
  const std::string per = word(trim(u.substr(slash + 1)), kPerUnits);
  if (per.empty()) return main;
  return main.empty() ? "per_" + per : main + "_per_" + per;
}

std::string prometheus_metric_name(std::string_view name, std::string_view unit, prometheus::MetricType type) {
  std::string base = sanitize(name, true);
  while (!base.empty() && base.back() == '_') base.pop_back();
  if (base.empty() || base == "_") return {};
  const bool counter = type == prometheus::MetricType::Counter;
  if (counter && base.size() > 6 && base.ends_with("_total")) base.resize(base.size() - 6);
  std::string suffix = prometheus_unit(unit);
  if (suffix == "ratio" && type != prometheus::MetricType::Gauge) suffix.clear();
  if (!suffix.empty() && !holds_words(base, suffix)) base += "_" + suffix;
  if (counter) base += "_total";
  return base;
}

std::string prometheus_label_name(std::string_view key) {
  std::string out = sanitize(key, false);
  return out == "_" ? std::string() : out;
}

}  // namespace porthole::telemetry
