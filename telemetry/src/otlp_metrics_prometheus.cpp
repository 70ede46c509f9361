// OTLP metrics -> Prometheus families (see otlp_metrics_prometheus.hpp for the rules). The
// points' values become ClientMetric fields here; their labels are built by SeriesLabels and the
// family bookkeeping of one batch is FamilyBuilder's.
#include "porthole/telemetry/otlp_metrics_prometheus.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>

#include "otlp_metrics_labels.hpp"
#include "otlp_metrics_values.hpp"
#include "prom_text_lexer.hpp"

namespace porthole::telemetry {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricType;
using metrics_detail::Labels;

constexpr std::string_view kReservedPrefix = "porthole_";
constexpr std::string_view kTargetInfo = "target_info";
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Per name: the family's index in the result and its series by label set, so that two points of
// one series are folded into one (Prometheus rejects a scrape with duplicate series).
class FamilyBuilder {
 public:
  explicit FamilyBuilder(OtlpMetricsConversion& out) : out_(out) {}

  // The type of the family `name` has so far in this batch, if any.
  const MetricType* type_of(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &out_.families[it->second].type;
  }

  // Adds a series; empty string, or why the point is invalid.
  std::string add(const std::string& name, MetricType type, const std::string& help, ClientMetric series,
                  const PointInfo& info) {
    auto [it, inserted] = index_.try_emplace(name, out_.families.size());
    if (inserted) {
      out_.families.push_back(prometheus::MetricFamily{name, help, type, {}});
      series_.emplace_back();
    }
    auto& family = out_.families[it->second];
    if (family.help.empty()) family.help = help;
    auto& by_labels = series_[it->second];
    auto [known, fresh] = by_labels.try_emplace(series.label, family.metric.size());
    if (fresh) {
      series.timestamp_ms = static_cast<std::int64_t>(out_.points.size());
      out_.points.push_back(info);
      family.metric.push_back(std::move(series));
      return {};
    }
    ClientMetric& existing = family.metric[known->second];
    PointInfo& existing_info = out_.points[static_cast<std::size_t>(existing.timestamp_ms)];
    if (info.delta) {
      if (!accumulate(type, existing, series)) {
        return "its deltas add up to more than " + std::to_string(kMaxMetricBuckets) + " buckets";
      }
      existing_info.start_time_unix_nano = std::min(existing_info.start_time_unix_nano, info.start_time_unix_nano);
      existing_info.time_unix_nano = std::max(existing_info.time_unix_nano, info.time_unix_nano);
    } else if (info.time_unix_nano >= existing_info.time_unix_nano) {
      series.timestamp_ms = existing.timestamp_ms;
      existing = std::move(series);
      existing_info = info;
    }
    return {};
  }

 private:
  OtlpMetricsConversion& out_;
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<std::map<Labels, std::size_t>> series_;
};

// HELP text: valid UTF-8, at most `max` bytes, and escaped as TextSerializer (which writes it
// verbatim) needs: `\` and newlines escaped, other control characters as spaces. A raw newline
// would let a description inject lines into the agent's text.
std::string help_text(std::string_view description, std::size_t max) {
  std::string text = metrics_detail::valid_utf8(description);
  if (text.size() > max) {
    std::size_t cut = max;  // not inside a UTF-8 sequence
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
  }
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out.push_back(' ');
    else out.push_back(c);
  }
  return out;
}

bool add_overflows(std::uint64_t& total, std::uint64_t n) {
  if (total > std::numeric_limits<std::uint64_t>::max() - n) return true;
  total += n;
  return false;
}

std::string count_mismatch(std::uint64_t buckets, std::uint64_t count) {
  return "bucket counts add up to " + std::to_string(buckets) + " but count is " + std::to_string(count);
}

std::string histogram_series(const HistogramDataPoint& p, ClientMetric::Histogram& h) {
  h.sample_count = p.count;
  h.sample_sum = p.sum.value_or(kNaN);
  if (p.bucket_counts.empty()) return {};  // no buckets: only _count, _sum and le="+Inf"
  if (p.bucket_counts.size() != p.explicit_bounds.size() + 1) {
    return std::to_string(p.bucket_counts.size()) + " bucket_counts for " + std::to_string(p.explicit_bounds.size()) +
           " explicit_bounds; want one more count than bounds";
  }
  std::uint64_t total = 0;
  double previous = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < p.explicit_bounds.size(); ++i) {
    const double bound = p.explicit_bounds[i];
    if (!std::isfinite(bound)) return "explicit_bounds[" + std::to_string(i) + "] is not a finite number";
    // Compared as printed: two bounds TextSerializer prints alike would be one `le` twice.
    const double printed = detail::as_serialized(bound);
    if (!(printed > previous)) return "explicit_bounds are not increasing at [" + std::to_string(i) + "]";
    previous = printed;
    if (add_overflows(total, p.bucket_counts[i])) return "bucket counts overflow";
    h.bucket.push_back({total, bound});
  }
  if (add_overflows(total, p.bucket_counts.back())) return "bucket counts overflow";
  return total == p.count ? std::string() : count_mismatch(total, p.count);
}

// Exponential buckets as `le` buckets. Bounds are those of scale min(scale, 0): powers of two
// (or of 2^(2^-scale) for negative scales), so a cumulative series keeps its `le` values when the
// SDK lowers its scale as it sees a wider range. Index i at scale s maps to i >> (s - target), as
// in the OpenTelemetry downscaling rule; bucket j covers (2^(j*f), 2^((j+1)*f)] with f = 2^-target.
std::string exponential_series(const ExponentialHistogramDataPoint& p, ClientMetric::Histogram& h) {
  h.sample_count = p.count;
  h.sample_sum = p.sum.value_or(kNaN);
  if (p.scale < -10 || p.scale > 20) return "scale " + std::to_string(p.scale) + " is outside -10..20";
  if (!(p.zero_threshold >= 0) || !std::isfinite(p.zero_threshold)) return "zero_threshold must be finite and >= 0";
  const int target = std::min(p.scale, 0);
  const int shift = p.scale - target;
  const std::int64_t f = std::int64_t{1} << -target;
  constexpr std::int64_t kMaxExponent = 1024, kMinExponent = -1074;  // beyond: inf, 0
  struct Folded {
    std::int64_t low = 0;
    std::vector<std::uint64_t> counts;
  };
  std::uint64_t total = p.zero_count;
  std::string error;
  auto fold = [&](const ExponentialBuckets& b) {
    Folded out;
    if (b.bucket_counts.empty()) return out;
    out.low = std::int64_t{b.offset} >> shift;
    const std::int64_t high = (std::int64_t{b.offset} + static_cast<std::int64_t>(b.bucket_counts.size()) - 1) >> shift;
    out.counts.assign(static_cast<std::size_t>(high - out.low + 1), 0);
    for (std::size_t k = 0; k < b.bucket_counts.size(); ++k) {
      const auto j = static_cast<std::size_t>(((std::int64_t{b.offset} + static_cast<std::int64_t>(k)) >> shift) - out.low);
      if (add_overflows(out.counts[j], b.bucket_counts[k]) || add_overflows(total, b.bucket_counts[k])) {
        error = "bucket counts overflow";
      }
    }
    return out;
  };
  const Folded positive = fold(p.positive), negative = fold(p.negative);
  if (!error.empty()) return error;
  if (total != p.count) return count_mismatch(total, p.count);

  std::vector<std::pair<double, std::uint64_t>> buckets;  // (le, count), increasing le
  for (std::size_t k = negative.counts.size(); k-- > 0;) {
    // Values in [-2^((j+1)f), -2^(jf)): le is -2^(jf).
    const std::int64_t exponent = (negative.low + static_cast<std::int64_t>(k)) * f;
    if (exponent >= kMaxExponent || exponent < kMinExponent) {
      if (negative.counts[k] != 0) return "a negative bucket lies beyond the range of doubles";
      continue;
    }
    buckets.emplace_back(-std::ldexp(1.0, static_cast<int>(exponent)), negative.counts[k]);
  }
  if (p.zero_count > 0 || !buckets.empty()) buckets.emplace_back(p.zero_threshold, p.zero_count);
  for (std::size_t k = 0; k < positive.counts.size(); ++k) {
    const std::int64_t index = positive.low + static_cast<std::int64_t>(k);
    if (index * f >= kMaxExponent || (index + 1) * f < kMinExponent) {
      if (positive.counts[k] != 0) return "a positive bucket lies beyond the range of doubles";
      continue;
    }
    // The top bucket's bound overflows to +Inf: its values are counted in le="+Inf" only,
    // which TextSerializer writes from sample_count.
    if ((index + 1) * f >= kMaxExponent) continue;
    buckets.emplace_back(std::ldexp(1.0, static_cast<int>((index + 1) * f)), positive.counts[k]);
  }
  std::uint64_t cumulative = 0;
  double previous = -std::numeric_limits<double>::infinity();
  for (const auto& [le, count] : buckets) {
    const double printed = detail::as_serialized(le);
    if (!(printed > previous)) return "zero_threshold overlaps the buckets";
    previous = printed;
    cumulative += count;
    h.bucket.push_back({cumulative, le});
  }
  if (h.bucket.size() > kMaxMetricBuckets) return "more than " + std::to_string(kMaxMetricBuckets) + " buckets";
  return {};
}

std::string summary_series(const SummaryDataPoint& p, ClientMetric::Summary& s) {
  s.sample_count = p.count;
  s.sample_sum = p.sum;
  for (const auto& q : p.quantile_values) {
    if (!(q.quantile >= 0 && q.quantile <= 1)) return "quantile " + metrics_detail::render_double(q.quantile) + " is outside [0, 1]";
    s.quantile.push_back({q.quantile, q.value});
  }
  std::sort(s.quantile.begin(), s.quantile.end(), [](const auto& a, const auto& b) { return a.quantile < b.quantile; });
  for (std::size_t i = 1; i < s.quantile.size(); ++i) {
    if (detail::as_serialized(s.quantile[i].quantile) == detail::as_serialized(s.quantile[i - 1].quantile)) {
      return "quantile " + metrics_detail::render_double(s.quantile[i].quantile) + " appears twice";
    }
  }
  return {};
}

std::string number_series(const NumberDataPoint& p, MetricType type, ClientMetric& m) {
  double value;
  if (const auto* d = std::get_if<double>(&p.value)) value = *d;
  else if (const auto* i = std::get_if<std::int64_t>(&p.value)) value = static_cast<double>(*i);
  else return "no value (neither as_double nor as_int)";
  if (type == MetricType::Counter) m.counter.value = value;
  else m.gauge.value = value;
  return {};
}

// How one OTLP metric maps: its Prometheus type, name, and whether its points are deltas.
struct MetricShape {
  MetricType type = MetricType::Gauge;
  bool delta = false;
  std::string error;  // the whole metric is invalid
};

std::string temporality_error(AggregationTemporality t) {
  if (t == AggregationTemporality::Delta || t == AggregationTemporality::Cumulative) return {};
  return "aggregation_temporality " + std::to_string(static_cast<std::int32_t>(t)) + " is neither DELTA nor CUMULATIVE";
}

MetricShape shape_of(const Metric& metric) {
  MetricShape s;
  std::visit(
      [&](const auto& data) {
        using T = std::decay_t<decltype(data)>;
        if constexpr (std::is_same_v<T, SumData>) {
          s.type = data.is_monotonic ? MetricType::Counter : MetricType::Gauge;
        } else if constexpr (std::is_same_v<T, HistogramData> || std::is_same_v<T, ExponentialHistogramData>) {
          s.type = MetricType::Histogram;
        } else if constexpr (std::is_same_v<T, SummaryData>) {
          s.type = MetricType::Summary;
        }
        if constexpr (requires { data.temporality; }) {
          s.error = temporality_error(data.temporality);
          s.delta = data.temporality == AggregationTemporality::Delta;
        }
      },
      metric.data);
  return s;
}

class Converter {
 public:
  Converter(const TelemetryPolicy& policy, OtlpMetricsConversion& out) : policy_(policy), out_(out), families_(out) {}

  void resource(const ResourceMetrics& r) {
    const metrics_detail::ResourceLabels resource = metrics_detail::resource_labels(r.resource, policy_, out_.policy);
    if (!resource.info.empty()) {
      ClientMetric info;
      std::string ignored;
      info.label = metrics_detail::series_labels(resource.info, resource.identity, MetricType::Gauge, ignored);
      info.gauge.value = 1;
      families_.add(std::string(kTargetInfo), MetricType::Gauge, "Resource attributes of the OTLP metrics' sources.",
                    std::move(info), PointInfo{0, 0, false, true});
    }
    for (const auto& scope : r.scope_metrics) {
      Labels context = resource.identity;
      if (!scope.scope_name.empty()) context.push_back({"otel_scope_name", metrics_detail::valid_utf8(scope.scope_name)});
      if (!scope.scope_version.empty()) {
        context.push_back({"otel_scope_version", metrics_detail::valid_utf8(scope.scope_version)});
      }
      for (const auto& metric : scope.metrics) this->metric(metric, context);
    }
  }

 private:
  void metric(const Metric& metric, const Labels& context) {
    const MetricShape shape = shape_of(metric);
    const std::string name = prometheus_metric_name(metric.name, metric.unit, shape.type);
    std::visit(
        [&](const auto& data) {
          if constexpr (requires { data.data_points; }) {
            out_.offered += data.data_points.size();
            std::string error = shape.error;
            PointRejection reason = PointRejection::Invalid;
            if (error.empty()) error = name_error(name, reason, shape.type);
            if (!error.empty()) return reject(metric, data.data_points.size(), reason, error);
            const std::string help = help_text(metric.description, policy_.max_value_bytes);
            for (std::size_t i = 0; i < data.data_points.size(); ++i) point(metric, name, shape, help, context, data.data_points[i], i);
          }
        },
        metric.data);
  }

  std::string name_error(const std::string& name, PointRejection& reason, MetricType type) const {
    if (name.empty()) return "the name sanitises to nothing";
    if (name.size() > kMaxNameBytes) return "the name is longer than " + std::to_string(kMaxNameBytes) + " bytes";
    if (name.starts_with(kReservedPrefix) || name == kTargetInfo) {
      reason = PointRejection::ReservedName;
      return "'" + name + "' is reserved for the agent's own metrics (porthole_*, target_info)";
    }
    if (const MetricType* known = families_.type_of(name); known != nullptr && *known != type) {
      reason = PointRejection::TypeConflict;
      return "'" + name + "' is already a metric of another type in this request";
    }
    return {};
  }

  template <class Point>
  void point(const Metric& metric, const std::string& name, const MetricShape& shape, const std::string& help,
             const Labels& context, const Point& p, std::size_t index) {
    if (p.flags & kNoRecordedValueFlag) {
      ++out_.no_recorded_value;
      return;
    }
    ClientMetric series;
    std::string error;
    series.label = metrics_detail::series_labels(p.attributes, context, shape.type, error);
    if (error.empty()) {
      if constexpr (std::is_same_v<Point, NumberDataPoint>) error = number_series(p, shape.type, series);
      else if constexpr (std::is_same_v<Point, HistogramDataPoint>) error = histogram_series(p, series.histogram);
      else if constexpr (std::is_same_v<Point, ExponentialHistogramDataPoint>) error = exponential_series(p, series.histogram);
      else error = summary_series(p, series.summary);
    }
    if (error.empty()) {
      error = families_.add(name, shape.type, help, std::move(series),
                            PointInfo{p.start_time_unix_nano, p.time_unix_nano, shape.delta, false});
    }
    if (!error.empty()) reject(metric, 1, PointRejection::Invalid, "data point " + std::to_string(index) + ": " + error);
  }

  void reject(const Metric& metric, std::size_t n, PointRejection reason, const std::string& error) {
    out_.rejected[static_cast<std::size_t>(reason)] += n;
    if (out_.first_error.empty() && n > 0) out_.first_error = "metric " + detail::quoted(metric.name) + ": " + error;
  }

  const TelemetryPolicy& policy_;
  OtlpMetricsConversion& out_;
  FamilyBuilder families_;
};

}  // namespace


std::uint64_t OtlpMetricsConversion::rejected_total() const {
  std::uint64_t n = 0;
  for (auto r : rejected) n += r;
  return n;
}

OtlpMetricsConversion convert_metrics(const MetricsBatch& batch, const TelemetryPolicy& policy) {
  OtlpMetricsConversion out;
  Converter converter(policy, out);
  for (const auto& r : batch.resource_metrics) converter.resource(r);
  return out;
}

bool accumulate(MetricType type, ClientMetric& into, const ClientMetric& delta) {
  switch (type) {
    case MetricType::Counter: into.counter.value += delta.counter.value; return true;
    case MetricType::Gauge: into.gauge.value += delta.gauge.value; return true;
    case MetricType::Histogram: {
      const auto& a = into.histogram.bucket;
      const auto& b = delta.histogram.bucket;
      std::vector<ClientMetric::Bucket> merged;
      merged.reserve(std::max(a.size(), b.size()));
      std::size_t i = 0, j = 0;
      std::uint64_t below_a = 0, below_b = 0;  // each side's count up to the current bound
      while (i < a.size() || j < b.size()) {
        const double le = j == b.size() || (i < a.size() && a[i].upper_bound < b[j].upper_bound) ? a[i].upper_bound
                                                                                                  : b[j].upper_bound;
        if (i < a.size() && a[i].upper_bound == le) below_a = a[i++].cumulative_count;
        if (j < b.size() && b[j].upper_bound == le) below_b = b[j++].cumulative_count;
        if (merged.size() == kMaxMetricBuckets) return false;
        merged.push_back({below_a + below_b, le});
      }
      into.histogram.bucket = std::move(merged);
      into.histogram.sample_count += delta.histogram.sample_count;
      into.histogram.sample_sum += delta.histogram.sample_sum;
      return true;
    }
    default: return false;
  }
}

std::size_t exposition_bytes(std::string_view family, MetricType type, const ClientMetric& series) {
  std::size_t labels = 2;
  for (const auto& l : series.label) labels += l.name.size() + l.value.size() + 4;
  // name, suffix, labels, a value of up to ~24 characters, separators.
  const std::size_t line = family.size() + 8 + labels + 26;
  switch (type) {
    case MetricType::Histogram: return (series.histogram.bucket.size() + 3) * (line + 16);
    case MetricType::Summary: return (series.summary.quantile.size() + 2) * (line + 16);
    default: return line;
  }
}

}  // namespace porthole::telemetry
