// Line-level rules: HELP/TYPE bookkeeping, assigning samples to families, and grouping
// histogram/summary samples into one ClientMetric per label set.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "porthole/telemetry/prom_text.hpp"
#include "prom_text_lexer.hpp"

namespace porthole::telemetry {
namespace {

using detail::Labels;
using detail::quoted;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// What a sample line contributes to its family's ClientMetric.
enum class Role { Value, Quantile, Bucket, Sum, Count };

struct SeriesState {
  std::size_t index = 0;  // into MetricFamily::metric
  bool has_value = false;
  bool has_sum = false;
  bool has_count = false;
  std::set<double> points;  // `le` bounds or quantiles seen, to reject duplicates in O(log n)
};

struct FamilyState {
  std::size_t first_line = 0;
  bool has_help = false;
  bool has_type = false;
  // std::map rather than a hash map: hostile label sets cannot degrade it by collisions.
  std::map<Labels, SeriesState> series;
};

std::optional<MetricType> type_from_name(std::string_view name) {
  if (name == "counter") return MetricType::Counter;
  if (name == "gauge") return MetricType::Gauge;
  if (name == "histogram") return MetricType::Histogram;
  if (name == "summary") return MetricType::Summary;
  if (name == "untyped") return MetricType::Untyped;
  return std::nullopt;
}

// A histogram/summary count: the data model wants an integer, and casting NaN, negative or huge
// doubles to uint64 is undefined behaviour.
std::optional<std::uint64_t> as_count(double value) {
  if (!(value >= 0.0) || value >= 18446744073709551616.0 || std::floor(value) != value) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(value);
}

class TextParser {
 public:
  explicit TextParser(const PromParseLimits& limits) : limits_(limits) {}

  PromParseResult run(std::string_view text) {
    if (text.size() > limits_.max_bytes) {
      fail(0, "input is " + std::to_string(text.size()) + " bytes, over the limit of " +
                  std::to_string(limits_.max_bytes) + "; nothing parsed");
      return std::move(result_);
    }
    std::size_t start = 0;
    while (start < text.size() && !stopped_) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(start, end - start);
      if (line.ends_with('\r')) line.remove_suffix(1);  // tolerate CRLF exporters
      ++line_;
      handle_line(line);
      start = end + 1;
    }
    finish();
    return std::move(result_);
  }

 private:
  void handle_line(std::string_view line) {
    const std::size_t pos = detail::skip_blanks(line, 0);
    if (pos == line.size()) return;
    if (line[pos] != '#') return handle_sample(line);
    const std::size_t word = detail::skip_blanks(line, pos + 1);
    const std::size_t word_end = detail::token_end(line, word);
    const std::string_view keyword = line.substr(word, word_end - word);
    if (keyword == "HELP") return handle_help(line.substr(word_end), line);
    if (keyword == "TYPE") return handle_type(line.substr(word_end), line);
    // Any other '#' line is a comment.
  }

  void handle_help(std::string_view rest, std::string_view line) {
    std::size_t pos = detail::skip_blanks(rest, 0);
    const std::size_t name_end = detail::token_end(rest, pos);
    const std::string_view name = rest.substr(pos, name_end - pos);
    if (!detail::is_metric_name(name)) {
      return error("invalid metric name " + quoted(name) + " in HELP line " + quoted(line));
    }
    const std::string_view text = rest.substr(detail::skip_blanks(rest, name_end));
    if (auto err = detail::check_help_text(text); !err.empty()) {
      return error(err + " for " + quoted(name));
    }
    const auto family = find_or_create_family(name);
    if (!family) return;
    if (states_[*family].has_help) return error("second HELP line for " + quoted(name));
    states_[*family].has_help = true;
    families_[*family].help = std::string(text);
  }

  void handle_type(std::string_view rest, std::string_view line) {
    std::size_t pos = detail::skip_blanks(rest, 0);
    const std::size_t name_end = detail::token_end(rest, pos);
    const std::string_view name = rest.substr(pos, name_end - pos);
    if (!detail::is_metric_name(name)) {
      return error("invalid metric name " + quoted(name) + " in TYPE line " + quoted(line));
    }
    std::string_view type_name = rest.substr(detail::skip_blanks(rest, name_end));
    while (!type_name.empty() && detail::is_blank(type_name.back())) type_name.remove_suffix(1);
    const auto type = type_from_name(type_name);
    if (!type) {
      return error("unknown metric type " + quoted(type_name) + " for " + quoted(name) +
                   " (expected counter, gauge, histogram, summary or untyped)");
    }
    if (const auto it = by_name_.find(name); it != by_name_.end()) {
      if (states_[it->second].has_type) return error("second TYPE line for " + quoted(name));
      if (!families_[it->second].metric.empty()) {
        return error("TYPE line for " + quoted(name) + " after its samples");
      }
    }
    const auto family = find_or_create_family(name);
    if (!family) return;
    states_[*family].has_type = true;
    families_[*family].type = *type;
  }

  void handle_sample(std::string_view line) {
    detail::SampleLine sample;
    if (auto err = detail::lex_sample_line(line, limits_, sample); !err.empty()) {
      return error(err);
    }
    std::size_t family = 0;
    Role role = Role::Value;
    if (const auto it = by_name_.find(sample.name); it != by_name_.end()) {
      family = it->second;
      const MetricType type = families_[family].type;
      if (type == MetricType::Histogram) {
        return error("histogram " + quoted(sample.name) +
                     " has no plain samples (expected _bucket, _sum or _count)");
      }
      role = type == MetricType::Summary ? Role::Quantile : Role::Value;
    } else if (const auto found = find_parent(sample.name)) {
      std::tie(family, role) = *found;
    } else if (const auto created = find_or_create_family(sample.name)) {
      family = *created;
    } else {
      return;  // the family cap stopped parsing
    }
    add_sample(family, role, std::move(sample));
  }

  // The histogram or summary a `_bucket`/`_sum`/`_count` sample belongs to, if it is declared.
  std::optional<std::pair<std::size_t, Role>> find_parent(std::string_view name) const {
    static constexpr std::pair<std::string_view, Role> kSuffixes[] = {
        {"_bucket", Role::Bucket}, {"_sum", Role::Sum}, {"_count", Role::Count}};
    for (const auto& [suffix, role] : kSuffixes) {
      if (!name.ends_with(suffix)) continue;
      const auto it = by_name_.find(name.substr(0, name.size() - suffix.size()));
      if (it == by_name_.end()) return std::nullopt;
      const MetricType type = families_[it->second].type;
      if (type == MetricType::Histogram || (type == MetricType::Summary && role != Role::Bucket)) {
        return std::pair{it->second, role};
      }
      return std::nullopt;
    }
    return std::nullopt;
  }

  void add_sample(std::size_t family_index, Role role, detail::SampleLine sample) {
    MetricFamily& family = families_[family_index];
    const bool histogram = family.type == MetricType::Histogram;
    const std::string_view special = histogram ? "le" : "quantile";
    auto special_label = std::find_if(sample.labels.begin(), sample.labels.end(),
                                      [&](const auto& l) { return l.name == special; });
    const bool wants_special = role == Role::Bucket || role == Role::Quantile;
    const bool grouped = histogram || family.type == MetricType::Summary;
    std::optional<double> point;
    if (wants_special) {
      if (special_label == sample.labels.end()) {
        return error(quoted(sample.name) + " has no '" + std::string(special) + "' label");
      }
      point = detail::parse_value(special_label->value);
      if (!point || std::isnan(*point)) {
        return error(quoted(sample.name) + ": invalid '" + std::string(special) + "' value " +
                     quoted(special_label->value));
      }
      point = detail::as_serialized(*point);
      sample.labels.erase(special_label);
    } else if (grouped && special_label != sample.labels.end()) {
      return error(quoted(sample.name) + " must not have a '" + std::string(special) + "' label");
    }
    std::uint64_t count = 0;
    if (role == Role::Bucket || role == Role::Count) {
      const auto as_int = as_count(sample.value);
      if (!as_int) return error(quoted(sample.name) + ": a count must be a non-negative integer");
      count = *as_int;
    }

    auto& series_map = states_[family_index].series;
    auto it = series_map.find(sample.labels);
    const bool is_new = it == series_map.end();
    if (is_new) {
      if (series_count_ == limits_.max_series) {
        return fail(line_,
                    "more than " + std::to_string(limits_.max_series) + " series; parsing stopped");
      }
      ++series_count_;
      ClientMetric metric;
      metric.label = sample.labels;
      metric.timestamp_ms = sample.timestamp_ms.value_or(0);
      family.metric.push_back(std::move(metric));
      it = series_map.emplace(std::move(sample.labels), SeriesState{}).first;
      it->second.index = family.metric.size() - 1;
    }
    SeriesState& state = it->second;
    ClientMetric& metric = family.metric[state.index];
    const auto duplicate = [&](const char* what) {
      error("duplicate " + std::string(what) + " for " + quoted(sample.name) +
            (metric.label.empty() ? std::string() : " " + describe(metric.label)));
    };
    switch (role) {
      case Role::Value:
        if (state.has_value) return duplicate("series");
        state.has_value = true;
        if (family.type == MetricType::Counter) metric.counter.value = sample.value;
        if (family.type == MetricType::Gauge) metric.gauge.value = sample.value;
        if (family.type == MetricType::Untyped) metric.untyped.value = sample.value;
        return;
      case Role::Quantile:
        if (!state.points.insert(*point).second) return duplicate("quantile");
        metric.summary.quantile.push_back({*point, sample.value});
        return;
      case Role::Bucket:
        if (!state.points.insert(*point).second) return duplicate("bucket");
        metric.histogram.bucket.push_back({count, *point});
        return;
      case Role::Sum:
        if (state.has_sum) return duplicate("sum");
        state.has_sum = true;
        (histogram ? metric.histogram.sample_sum : metric.summary.sample_sum) = sample.value;
        return;
      case Role::Count:
        if (state.has_count) return duplicate("count");
        state.has_count = true;
        (histogram ? metric.histogram.sample_count : metric.summary.sample_count) = count;
        return;
    }
  }

  std::optional<std::size_t> find_or_create_family(std::string_view name) {
    if (const auto it = by_name_.find(name); it != by_name_.end()) return it->second;
    if (families_.size() == limits_.max_families) {
      fail(line_, "more than " + std::to_string(limits_.max_families) +
                      " metric families; parsing stopped");
      return std::nullopt;
    }
    MetricFamily family;
    family.name = std::string(name);
    families_.push_back(std::move(family));
    states_.emplace_back().first_line = line_;
    by_name_.emplace(std::string(name), families_.size() - 1);
    return families_.size() - 1;
  }

  static std::string describe(const Labels& labels) {
    std::string out = "{";
    for (const auto& label : labels) {
      if (out.size() > 1) out += ",";
      out += label.name + "=" + quoted(label.value);
    }
    return out + "}";
  }

  // TextSerializer writes histogram X as X_bucket/X_sum/X_count lines and summary X as X/X_sum/
  // X_count. Another family with one of those names (seen before X's TYPE line, or given its
  // own TYPE line) would make the re-serialised text ambiguous, so it is dropped.
  void drop_colliding_families() {
    for (std::size_t i = 0; i < families_.size(); ++i) {
      const MetricFamily& family = families_[i];
      const bool histogram = family.type == MetricType::Histogram;
      if (family.metric.empty() || (!histogram && family.type != MetricType::Summary)) continue;
      for (const std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (suffix == "_bucket" && !histogram) continue;
        const auto it = by_name_.find(family.name + std::string(suffix));
        if (it == by_name_.end() || families_[it->second].metric.empty()) continue;
        families_[it->second].metric.clear();
        error_at(states_[it->second].first_line, "family " + quoted(families_[it->second].name) +
                                                     " dropped: its name collides "
                                                     "with the samples of " +
                                                     (histogram ? "histogram " : "summary ") +
                                                     quoted(family.name));
      }
    }
  }

  void finish() {
    drop_colliding_families();
    for (std::size_t i = 0; i < families_.size(); ++i) {
      MetricFamily& family = families_[i];
      if (family.metric.empty()) continue;
      for (auto& metric : family.metric) {
        auto& buckets = metric.histogram.bucket;
        std::sort(buckets.begin(), buckets.end(),
                  [](const auto& a, const auto& b) { return a.upper_bound < b.upper_bound; });
      }
      result_.families.push_back(std::move(family));
    }
  }

  void error(std::string message) { error_at(line_, std::move(message)); }

  void error_at(std::size_t line, std::string message) {
    if (result_.errors.size() >= limits_.max_errors) {
      ++result_.suppressed_errors;
      return;
    }
    result_.errors.push_back({line, "line " + std::to_string(line) + ": " + std::move(message)});
  }

  // Stops parsing; recorded even past max_errors so the caller always sees why.
  void fail(std::size_t line, std::string message) {
    stopped_ = true;
    result_.errors.push_back(
        {line, line == 0 ? std::move(message) : "line " + std::to_string(line) + ": " + message});
  }

  const PromParseLimits& limits_;
  std::vector<MetricFamily> families_;
  std::vector<FamilyState> states_;  // parallel to families_
  std::map<std::string, std::size_t, std::less<>> by_name_;
  std::size_t series_count_ = 0;
  std::size_t line_ = 0;
  bool stopped_ = false;
  PromParseResult result_;
};

}  // namespace

PromParseResult parse_prometheus_text(std::string_view text, const PromParseLimits& limits) {
  return TextParser(limits).run(text);
}

}  // namespace porthole::telemetry
