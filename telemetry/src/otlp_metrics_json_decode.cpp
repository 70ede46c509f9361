// Decoding of ExportMetricsServiceRequest from OTLP/JSON (the proto3 JSON mapping with OTLP's
// exceptions). Keys are lowerCamelCase, snake_case is accepted too; `null` reads as absent;
// unknown keys are ignored. Errors name the JSON path ("resourceMetrics[0].scopeMetrics[0]...").
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include <boost/json.hpp>

#include "base64.hpp"
#include "otlp_metrics_decoding.hpp"
#include "otlp_metrics_values.hpp"
#include "porthole/telemetry/otlp_metrics.hpp"

namespace porthole::telemetry {
namespace {

namespace json = boost::json;
using metrics_detail::json_double;

using JsonDecoder = metrics_detail::DecodeState;

// `camel` or its snake_case form, or nullptr when absent or null. The snake_case form is made
// on the stack: optional keys are looked up for every data point.
const json::value* member(const json::object& o, std::string_view camel) {
  auto it = o.find(camel);
  if (it == o.end()) {
    std::array<char, 64> snake;  // the keys are this file's literals, all far shorter
    std::size_t n = 0;
    bool changed = false;
    for (char c : camel) {
      if (n + 2 > snake.size()) return nullptr;
      if (c >= 'A' && c <= 'Z') {
        snake[n++] = '_';
        snake[n++] = static_cast<char>(c - 'A' + 'a');
        changed = true;
      } else {
        snake[n++] = c;
      }
    }
    if (changed) it = o.find(std::string_view(snake.data(), n));
  }
  if (it == o.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

// Integers are JSON numbers or decimal strings (proto3 JSON writes 64-bit ones as strings).
template <class T>
bool to_integer(const json::value& v, T& out) {
  if (const auto* s = v.if_string()) {
    const auto* end = s->data() + s->size();
    auto [ptr, ec] = std::from_chars(s->data(), end, out);
    return ec == std::errc() && ptr == end && !s->empty();
  }
  if (const auto* i = v.if_int64()) {
    if (*i < static_cast<std::int64_t>(std::numeric_limits<T>::min())) return false;
    if (*i > 0 && static_cast<std::uint64_t>(*i) > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return false;
    out = static_cast<T>(*i);
    return true;
  }
  if (const auto* u = v.if_uint64()) {
    if (*u > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return false;
    out = static_cast<T>(*u);
    return true;
  }
  if (const auto* d = v.if_double()) {
    // 1e3 is an integer written as a float; a value out of T's range or with a fraction is not.
    if (!std::isfinite(*d) || std::floor(*d) != *d || *d < static_cast<double>(std::numeric_limits<T>::min()) ||
        *d >= std::ldexp(1.0, std::numeric_limits<T>::digits)) {
      return false;
    }
    out = static_cast<T>(*d);
    return true;
  }
  return false;
}

// Doubles are numbers, or strings: "NaN", "Infinity", "-Infinity" or a decimal.
bool to_double(const json::value& v, double& out) {
  if (v.is_number()) {
    out = v.to_number<double>();
    return true;
  }
  const auto* s = v.if_string();
  if (s == nullptr || s->empty()) return false;
  const std::string_view text(s->data(), s->size());
  if (text == "NaN") out = std::numeric_limits<double>::quiet_NaN();
  else if (text == "Infinity") out = std::numeric_limits<double>::infinity();
  else if (text == "-Infinity") out = -std::numeric_limits<double>::infinity();
  else {
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size();
  }
  return true;
}

template <class T>
bool read_integer(JsonDecoder& d, const json::object& o, std::string_view name, T& out) {
  const json::value* v = member(o, name);
  if (v == nullptr) return true;
  return to_integer(*v, out) || d.fail_at(name, "expected an integer in range");
}

bool read_double(JsonDecoder& d, const json::object& o, std::string_view name, double& out) {
  const json::value* v = member(o, name);
  return v == nullptr || to_double(*v, out) || d.fail_at(name, "expected a number");
}

bool read_double(JsonDecoder& d, const json::object& o, std::string_view name, std::optional<double>& out) {
  const json::value* v = member(o, name);
  if (v == nullptr) return true;
  double x = 0;
  if (!to_double(*v, x)) return d.fail_at(name, "expected a number");
  out = x;
  return true;
}

bool read_string(JsonDecoder& d, const json::object& o, std::string_view name, std::string& out) {
  const json::value* v = member(o, name);
  if (v == nullptr) return true;
  const auto* s = v->if_string();
  if (s == nullptr) return d.fail_at(name, "expected a string");
  out.assign(s->data(), s->size());
  return true;
}

bool read_bool(JsonDecoder& d, const json::object& o, std::string_view name, bool& out) {
  const json::value* v = member(o, name);
  if (v == nullptr) return true;
  if (!v->is_bool()) return d.fail_at(name, "expected true or false");
  out = v->get_bool();
  return true;
}

// An array under `name` (absent: empty), each element passed to `each(element, index)`.
template <class Each>
bool read_array(JsonDecoder& d, const json::object& o, std::string_view name, Each&& each) {
  const json::value* v = member(o, name);
  if (v == nullptr) return true;
  const auto* array = v->if_array();
  if (array == nullptr) return d.fail_at(name, "expected an array");
  for (std::size_t i = 0; i < array->size(); ++i) {
    if (!each((*array)[i])) return d.fail_in(name, i);
  }
  return true;
}

// A list of objects, each decoded into a new element of `out` by `decode(object, element)`.
template <class T, class Decode>
bool read_objects(JsonDecoder& d, const json::object& o, std::string_view name, std::vector<T>& out, Decode&& decode) {
  return read_array(d, o, name, [&](const json::value& v) {
    const auto* object = v.if_object();
    if (object == nullptr) return d.fail("expected an object");
    return d.count_values(1) && decode(*object, out.emplace_back());
  });
}

template <class T>
bool read_numbers(JsonDecoder& d, const json::object& o, std::string_view name, std::vector<T>& out) {
  if (const auto* v = member(o, name); v != nullptr && v->is_array()) {
    if (v->get_array().size() > kMaxMetricBuckets) return d.fail_at(name, "more than " + std::to_string(kMaxMetricBuckets));
    if (!d.count_values(v->get_array().size())) return false;
  }
  return read_array(d, o, name, [&](const json::value& v) {
    T x{};
    bool ok;
    if constexpr (std::is_same_v<T, double>) ok = to_double(v, x);
    else ok = to_integer(v, x);
    if (!ok) return d.fail("expected a number");
    out.push_back(x);
    return true;
  });
}

bool any_value(JsonDecoder& d, const json::value& v, json::value& out, std::size_t depth);

bool key_value(JsonDecoder& d, const json::value& v, std::string& key, json::value& value, std::size_t depth) {
  const auto* o = v.if_object();
  if (o == nullptr) return d.fail("expected an object");
  if (!d.count_values(1) || !read_string(d, *o, "key", key)) return false;
  const json::value* inner = member(*o, "value");
  return inner == nullptr || any_value(d, *inner, value, depth) || d.fail_in("value");
}

bool any_value(JsonDecoder& d, const json::value& v, json::value& out, std::size_t depth) {
  if (depth > d.limits().max_depth) return d.fail("nested deeper than " + std::to_string(d.limits().max_depth) + " values");
  const auto* o = v.if_object();
  if (o == nullptr) return d.fail("expected an object");
  if (!d.count_values(1)) return false;
  out = nullptr;
  if (const auto* s = member(*o, "stringValue")) {
    if (!s->is_string()) return d.fail_at("stringValue", "expected a string");
    out = s->get_string();
  } else if (member(*o, "boolValue")) {
    bool b = false;
    if (!read_bool(d, *o, "boolValue", b)) return false;
    out = b;
  } else if (member(*o, "intValue")) {
    std::int64_t i = 0;
    if (!read_integer(d, *o, "intValue", i)) return false;
    out = i;
  } else if (member(*o, "doubleValue")) {
    double x = 0;
    if (!read_double(d, *o, "doubleValue", x)) return false;
    out = json_double(x);
  } else if (const auto* b = member(*o, "bytesValue")) {
    std::string bytes;
    if (!b->is_string() || !base64::decode(std::string_view(b->get_string().data(), b->get_string().size()), bytes)) {
      return d.fail_at("bytesValue", "expected base64");
    }
    out = json::string(base64::encode(bytes));
  } else if (const auto* a = member(*o, "arrayValue")) {
    const auto* ao = a->if_object();
    if (ao == nullptr) return d.fail_at("arrayValue", "expected an object");
    json::array elements;
    if (!read_array(d, *ao, "values", [&](const json::value& e) { return any_value(d, e, elements.emplace_back(nullptr), depth + 1); })) {
      return d.fail_in("arrayValue");
    }
    out = std::move(elements);
  } else if (const auto* k = member(*o, "kvlistValue")) {
    const auto* ko = k->if_object();
    if (ko == nullptr) return d.fail_at("kvlistValue", "expected an object");
    json::object members;
    if (!read_array(d, *ko, "values", [&](const json::value& e) {
          std::string key;
          json::value value;
          if (!key_value(d, e, key, value, depth + 1)) return false;
          members[key] = std::move(value);
          return true;
        })) {
      return d.fail_in("kvlistValue");
    }
    out = std::move(members);
  }
  return true;
}

bool read_attributes(JsonDecoder& d, const json::object& o, MetricAttributes& out) {
  return read_array(d, o, "attributes", [&](const json::value& v) {
    MetricAttribute& a = out.emplace_back();
    json::value value;
    if (!key_value(d, v, a.key, value, 0)) return false;
    a.value = metrics_detail::render_attribute(value);
    return true;
  });
}

template <class Point>
bool read_point_common(JsonDecoder& d, const json::object& o, Point& p) {
  return read_attributes(d, o, p.attributes) && read_integer(d, o, "startTimeUnixNano", p.start_time_unix_nano) &&
         read_integer(d, o, "timeUnixNano", p.time_unix_nano) && read_integer(d, o, "flags", p.flags);
}

bool number_point(JsonDecoder& d, const json::object& o, NumberDataPoint& p) {
  if (!read_point_common(d, o, p)) return false;
  if (member(o, "asDouble")) {
    double x = 0;
    if (!read_double(d, o, "asDouble", x)) return false;
    p.value = x;
  } else if (member(o, "asInt")) {
    std::int64_t i = 0;
    if (!read_integer(d, o, "asInt", i)) return false;
    p.value = i;
  }
  return true;
}

bool histogram_point(JsonDecoder& d, const json::object& o, HistogramDataPoint& p) {
  return read_point_common(d, o, p) && read_integer(d, o, "count", p.count) && read_double(d, o, "sum", p.sum) &&
         read_numbers(d, o, "bucketCounts", p.bucket_counts) && read_numbers(d, o, "explicitBounds", p.explicit_bounds) &&
         read_double(d, o, "min", p.min) && read_double(d, o, "max", p.max);
}

bool exponential_buckets(JsonDecoder& d, const json::object& o, std::string_view name, ExponentialBuckets& b) {
  const json::value* v = member(o, name);
  if (v == nullptr) return true;
  const auto* bo = v->if_object();
  if (bo == nullptr) return d.fail_at(name, "expected an object");
  return (read_integer(d, *bo, "offset", b.offset) && read_numbers(d, *bo, "bucketCounts", b.bucket_counts)) ||
         d.fail_in(name);
}

bool exponential_point(JsonDecoder& d, const json::object& o, ExponentialHistogramDataPoint& p) {
  return read_point_common(d, o, p) && read_integer(d, o, "count", p.count) && read_double(d, o, "sum", p.sum) &&
         read_integer(d, o, "scale", p.scale) && read_integer(d, o, "zeroCount", p.zero_count) &&
         exponential_buckets(d, o, "positive", p.positive) && exponential_buckets(d, o, "negative", p.negative) &&
         read_double(d, o, "min", p.min) && read_double(d, o, "max", p.max) &&
         read_double(d, o, "zeroThreshold", p.zero_threshold);
}

bool summary_point(JsonDecoder& d, const json::object& o, SummaryDataPoint& p) {
  if (const auto* v = member(o, "quantileValues"); v != nullptr && v->is_array() && v->get_array().size() > kMaxMetricBuckets) {
    return d.fail_at("quantileValues", "more than " + std::to_string(kMaxMetricBuckets));
  }
  return read_point_common(d, o, p) && read_integer(d, o, "count", p.count) && read_double(d, o, "sum", p.sum) &&
         read_objects(d, o, "quantileValues", p.quantile_values, [&](const json::object& q, QuantileValue& x) {
           return read_double(d, q, "quantile", x.quantile) && read_double(d, q, "value", x.value);
         });
}

// The enum as an integer, or (as proto3 JSON parsers accept) its name.
bool read_temporality(JsonDecoder& d, const json::object& o, AggregationTemporality& out) {
  const json::value* v = member(o, "aggregationTemporality");
  if (v == nullptr) return true;
  static constexpr std::string_view kNames[] = {"AGGREGATION_TEMPORALITY_UNSPECIFIED", "AGGREGATION_TEMPORALITY_DELTA",
                                                "AGGREGATION_TEMPORALITY_CUMULATIVE"};
  std::int32_t n = 0;
  if (const auto* s = v->if_string()) {
    for (std::int32_t i = 0; i < 3; ++i) {
      if (*s == kNames[i]) {
        out = static_cast<AggregationTemporality>(i);
        return true;
      }
    }
  }
  if (!to_integer(*v, n)) return d.fail_at("aggregationTemporality", "expected an integer or an AGGREGATION_TEMPORALITY_ name");
  out = static_cast<AggregationTemporality>(n);
  return true;
}

template <class Data, class DecodePoint>
bool metric_data(JsonDecoder& d, const json::value& v, Data& data, DecodePoint&& decode_point) {
  const auto* o = v.if_object();
  if (o == nullptr) return d.fail("expected an object");
  if constexpr (requires { data.temporality; }) {
    if (!read_temporality(d, *o, data.temporality)) return false;
  }
  if constexpr (requires { data.is_monotonic; }) {
    if (!read_bool(d, *o, "isMonotonic", data.is_monotonic)) return false;
  }
  return read_objects(d, *o, "dataPoints", data.data_points, [&](const json::object& p, auto& point) {
    return d.count_point() && decode_point(d, p, point);
  });
}

bool metric(JsonDecoder& d, const json::object& o, Metric& m) {
  if (!read_string(d, o, "name", m.name) || !read_string(d, o, "description", m.description) ||
      !read_string(d, o, "unit", m.unit)) {
    return false;
  }
  if (const auto* v = member(o, "gauge")) return metric_data(d, *v, m.data.emplace<GaugeData>(), number_point) || d.fail_in("gauge");
  if (const auto* v = member(o, "sum")) return metric_data(d, *v, m.data.emplace<SumData>(), number_point) || d.fail_in("sum");
  if (const auto* v = member(o, "histogram")) {
    return metric_data(d, *v, m.data.emplace<HistogramData>(), histogram_point) || d.fail_in("histogram");
  }
  if (const auto* v = member(o, "exponentialHistogram")) {
    return metric_data(d, *v, m.data.emplace<ExponentialHistogramData>(), exponential_point) ||
           d.fail_in("exponentialHistogram");
  }
  if (const auto* v = member(o, "summary")) return metric_data(d, *v, m.data.emplace<SummaryData>(), summary_point) || d.fail_in("summary");
  return true;
}

bool scope_metrics(JsonDecoder& d, const json::object& o, ScopeMetrics& s) {
  if (const auto* scope = member(o, "scope")) {
    const auto* so = scope->if_object();
    if (so == nullptr) return d.fail_at("scope", "expected an object");
    if (!read_string(d, *so, "name", s.scope_name) || !read_string(d, *so, "version", s.scope_version)) {
      return d.fail_in("scope");
    }
  }
  return read_objects(d, o, "metrics", s.metrics, [&](const json::object& m, Metric& x) { return metric(d, m, x); });
}

bool resource_metrics(JsonDecoder& d, const json::object& o, ResourceMetrics& r) {
  if (const auto* resource = member(o, "resource")) {
    const auto* ro = resource->if_object();
    if (ro == nullptr) return d.fail_at("resource", "expected an object");
    if (!read_attributes(d, *ro, r.resource)) return d.fail_in("resource");
  }
  return read_objects(d, o, "scopeMetrics", r.scope_metrics,
                      [&](const json::object& s, ScopeMetrics& x) { return scope_metrics(d, s, x); });
}

}  // namespace

bool decode_metrics_request_json(std::string_view text, MetricsBatch& out, std::string& error,
                                 const OtlpDecodeLimits& limits) {
  out = MetricsBatch{};
  error.clear();
  JsonDecoder d(limits, error);
  if (text.size() > limits.max_bytes) {
    return d.fail("request of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                  std::to_string(limits.max_bytes));
  }
  json::parse_options options;
  // Two JSON levels (object, array) per OTLP level, and a margin for the envelope.
  options.max_depth = 2 * limits.max_depth + 16;
  boost::system::error_code ec;
  const json::value root = json::parse(text, ec, {}, options);
  if (ec) return d.fail("invalid JSON: " + ec.message());
  const auto* o = root.if_object();
  if (o == nullptr) return d.fail("expected a JSON object");
  return read_objects(d, *o, "resourceMetrics", out.resource_metrics,
                      [&](const json::object& r, ResourceMetrics& x) { return resource_metrics(d, r, x); });
}

}  // namespace porthole::telemetry
