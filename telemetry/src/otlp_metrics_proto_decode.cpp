// Decoding of ExportMetricsServiceRequest from protobuf (opentelemetry-proto metrics/v1 field
// numbers). As in otlp_proto_decode.cpp, a field whose wire type does not match the schema is
// skipped as unknown. Repeated scalars (bucket counts, bounds) are accepted packed and unpacked,
// as protobuf requires of parsers.
#include <bit>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "base64.hpp"
#include "otlp_metrics_decoding.hpp"
#include "otlp_metrics_values.hpp"
#include "porthole/telemetry/otlp_metrics.hpp"
#include "protobuf_wire.hpp"

namespace porthole::telemetry {
namespace {
// Named, so these helpers do not meet the JSON decoder's namesakes in a unity build.
namespace metrics_proto {

namespace json = boost::json;
using metrics_detail::json_double;
using wire::Field;

// The shared decoding state plus protobuf's nesting depth and its field walk.
class Decoder : public metrics_detail::DecodeState {
 public:
  using DecodeState::DecodeState;

  // Calls on_field(field) for each field of `message`, one nesting level deeper.
  template <class OnField>
  bool fields(std::string_view message, OnField&& on_field) {
    if (depth_ >= limits().max_depth) return fail("nested deeper than " + std::to_string(limits().max_depth) + " messages");
    if (!count_values(1)) return false;
    ++depth_;
    wire::Reader reader(message);
    Field field;
    while (!reader.at_end()) {
      if (!reader.next(field, error()) || !on_field(field)) return false;
    }
    --depth_;
    return true;
  }

  // A repeated message field: `decode(bytes, element)` for a new element of `out`.
  template <class T, class Decode>
  bool element(const char* name, const Field& f, std::vector<T>& out, Decode&& decode) {
    const std::size_t index = out.size();
    return decode(f.bytes, out.emplace_back()) || fail_in(name, index);
  }

  bool attribute(const Field& f, MetricAttributes& out);
  bool any_value(std::string_view message, json::value& out);

 private:
  std::size_t depth_ = 0;
};

bool is_len(const Field& f) { return f.type == wire::kLen; }
bool is_varint(const Field& f) { return f.type == wire::kVarint; }
bool is_fixed64(const Field& f) { return f.type == wire::kFixed64; }
double as_double(const Field& f) { return std::bit_cast<double>(f.number_value); }
std::int32_t zigzag32(std::uint64_t v) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(v >> 1) ^ -static_cast<std::uint32_t>(v & 1));
}

bool Decoder::any_value(std::string_view message, json::value& out) {
  out = nullptr;
  return fields(message, [&](const Field& f) {
    switch (f.number) {
      case 1: if (is_len(f)) out = json::string(f.bytes); break;
      case 2: if (is_varint(f)) out = f.number_value != 0; break;
      case 3: if (is_varint(f)) out = static_cast<std::int64_t>(f.number_value); break;
      case 4: if (is_fixed64(f)) out = json_double(as_double(f)); break;
      case 5:
      case 6:
        if (is_len(f)) {
          // ArrayValue {repeated AnyValue values = 1} / KeyValueList {repeated KeyValue values = 1}
          const bool array = f.number == 5;
          json::array elements;
          json::object members;
          std::size_t i = 0;
          const bool ok = fields(f.bytes, [&](const Field& g) {
            if (g.number != 1 || !is_len(g)) return true;
            bool element_ok;
            if (array) {
              element_ok = any_value(g.bytes, elements.emplace_back(nullptr));
            } else {
              std::string key;
              json::value value;
              element_ok = fields(g.bytes, [&](const Field& h) {
                if (h.number == 1 && is_len(h)) key.assign(h.bytes);
                else if (h.number == 2 && is_len(h)) return any_value(h.bytes, value) || fail_in("value");
                return true;
              });
              members[key] = std::move(value);
            }
            return element_ok || fail_in("values", i++);
          });
          if (!ok) return fail_in(array ? "array_value" : "kvlist_value");
          if (array) out = std::move(elements);
          else out = std::move(members);
        }
        break;
      case 7: if (is_len(f)) out = json::string(base64::encode(f.bytes)); break;
      default: break;
    }
    return true;
  });
}

bool Decoder::attribute(const Field& f, MetricAttributes& out) {
  MetricAttribute& a = out.emplace_back();
  json::value value;
  const bool ok = fields(f.bytes, [&](const Field& g) {
    if (g.number == 1 && is_len(g)) a.key.assign(g.bytes);
    else if (g.number == 2 && is_len(g)) return any_value(g.bytes, value) || fail_in("value");
    return true;
  });
  if (!ok) return fail_in("attributes", out.size() - 1);
  a.value = metrics_detail::render_attribute(value);
  return true;
}

// Packed (one length-delimited field of 8-byte values) or unpacked (one fixed64 field each).
bool fixed64_values(Decoder& d, const Field& f, const char* name, std::vector<std::uint64_t>& out) {
  if (!is_fixed64(f) && !is_len(f)) return true;
  if (is_len(f) && f.bytes.size() % 8 != 0) {
    d.fail("packed fixed64 of " + std::to_string(f.bytes.size()) + " bytes");
    return d.fail_in(name);
  }
  const std::size_t n = is_len(f) ? f.bytes.size() / 8 : 1;
  if (out.size() + n > kMaxMetricBuckets) {
    d.fail("more than " + std::to_string(kMaxMetricBuckets));
    return d.fail_in(name);
  }
  if (!d.count_values(n)) return d.fail_in(name);
  if (is_fixed64(f)) {
    out.push_back(f.number_value);
    return true;
  }
  for (std::size_t i = 0; i < f.bytes.size(); i += 8) {
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < 8; ++k) v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(f.bytes[i + k])) << (8 * k);
    out.push_back(v);
  }
  return true;
}

bool double_values(Decoder& d, const Field& f, const char* name, std::vector<double>& out) {
  std::vector<std::uint64_t> bits;
  if (!fixed64_values(d, f, name, bits)) return false;
  if (out.size() + bits.size() > kMaxMetricBuckets) {
    d.fail("more than " + std::to_string(kMaxMetricBuckets));
    return d.fail_in(name);
  }
  for (auto b : bits) out.push_back(std::bit_cast<double>(b));
  return true;
}

// Packed varints (or one varint field each), as ExponentialHistogramDataPoint.Buckets has them.
bool varint_values(Decoder& d, const Field& f, std::vector<std::uint64_t>& out) {
  std::size_t added = 0;
  if (is_varint(f)) {
    out.push_back(f.number_value);
    added = 1;
  } else if (is_len(f)) {
    std::uint64_t v = 0;
    unsigned shift = 0;
    for (char c : f.bytes) {
      const auto byte = static_cast<std::uint8_t>(c);
      if (shift == 63 && byte > 1) return d.fail("packed varint longer than 64 bits") || d.fail_in("bucket_counts");
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (byte & 0x80) {
        shift += 7;
        continue;
      }
      out.push_back(v);
      ++added;
      v = 0;
      shift = 0;
      if (out.size() > kMaxMetricBuckets) break;
    }
    if (shift != 0) return d.fail("truncated packed varint") || d.fail_in("bucket_counts");
  }
  if (out.size() > kMaxMetricBuckets) return d.fail("more than " + std::to_string(kMaxMetricBuckets)) || d.fail_in("bucket_counts");
  return d.count_values(added) || d.fail_in("bucket_counts");
}

// Fields 2 and 3 (start and end time) are the same in every point type.
template <class Point>
bool times(const Field& f, Point& p) {
  if (f.number == 2 && is_fixed64(f)) p.start_time_unix_nano = f.number_value;
  else if (f.number == 3 && is_fixed64(f)) p.time_unix_nano = f.number_value;
  return true;
}

bool number_point(Decoder& d, std::string_view message, NumberDataPoint& p) {
  return d.fields(message, [&](const Field& f) {
    switch (f.number) {
      case 4: if (is_fixed64(f)) p.value = as_double(f); return true;
      case 6: if (is_fixed64(f)) p.value = static_cast<std::int64_t>(f.number_value); return true;
      case 7: return !is_len(f) || d.attribute(f, p.attributes);
      case 8: if (is_varint(f)) p.flags = static_cast<std::uint32_t>(f.number_value); return true;
      default: return times(f, p);
    }
  });
}

bool histogram_point(Decoder& d, std::string_view message, HistogramDataPoint& p) {
  return d.fields(message, [&](const Field& f) {
    switch (f.number) {
      case 4: if (is_fixed64(f)) p.count = f.number_value; return true;
      case 5: if (is_fixed64(f)) p.sum = as_double(f); return true;
      case 6: return fixed64_values(d, f, "bucket_counts", p.bucket_counts);
      case 7: return double_values(d, f, "explicit_bounds", p.explicit_bounds);
      case 9: return !is_len(f) || d.attribute(f, p.attributes);
      case 10: if (is_varint(f)) p.flags = static_cast<std::uint32_t>(f.number_value); return true;
      case 11: if (is_fixed64(f)) p.min = as_double(f); return true;
      case 12: if (is_fixed64(f)) p.max = as_double(f); return true;
      default: return times(f, p);
    }
  });
}

bool exponential_buckets(Decoder& d, std::string_view message, ExponentialBuckets& b) {
  return d.fields(message, [&](const Field& f) {
    if (f.number == 1 && is_varint(f)) b.offset = zigzag32(f.number_value);
    else if (f.number == 2) return varint_values(d, f, b.bucket_counts);
    return true;
  });
}

bool exponential_point(Decoder& d, std::string_view message, ExponentialHistogramDataPoint& p) {
  return d.fields(message, [&](const Field& f) {
    switch (f.number) {
      case 1: return !is_len(f) || d.attribute(f, p.attributes);
      case 4: if (is_fixed64(f)) p.count = f.number_value; return true;
      case 5: if (is_fixed64(f)) p.sum = as_double(f); return true;
      case 6: if (is_varint(f)) p.scale = zigzag32(f.number_value); return true;
      case 7: if (is_fixed64(f)) p.zero_count = f.number_value; return true;
      case 8: return !is_len(f) || exponential_buckets(d, f.bytes, p.positive) || d.fail_in("positive");
      case 9: return !is_len(f) || exponential_buckets(d, f.bytes, p.negative) || d.fail_in("negative");
      case 10: if (is_varint(f)) p.flags = static_cast<std::uint32_t>(f.number_value); return true;
      case 12: if (is_fixed64(f)) p.min = as_double(f); return true;
      case 13: if (is_fixed64(f)) p.max = as_double(f); return true;
      case 14: if (is_fixed64(f)) p.zero_threshold = as_double(f); return true;
      default: return times(f, p);
    }
  });
}

bool summary_point(Decoder& d, std::string_view message, SummaryDataPoint& p) {
  return d.fields(message, [&](const Field& f) {
    switch (f.number) {
      case 4: if (is_fixed64(f)) p.count = f.number_value; return true;
      case 5: if (is_fixed64(f)) p.sum = as_double(f); return true;
      case 6:
        if (!is_len(f)) return true;
        if (p.quantile_values.size() >= kMaxMetricBuckets) {
          return d.fail("more than " + std::to_string(kMaxMetricBuckets)) || d.fail_in("quantile_values");
        }
        return d.element("quantile_values", f, p.quantile_values, [&](std::string_view m, QuantileValue& q) {
          return d.fields(m, [&](const Field& g) {
            if (g.number == 1 && is_fixed64(g)) q.quantile = as_double(g);
            else if (g.number == 2 && is_fixed64(g)) q.value = as_double(g);
            return true;
          });
        });
      case 7: return !is_len(f) || d.attribute(f, p.attributes);
      case 8: if (is_varint(f)) p.flags = static_cast<std::uint32_t>(f.number_value); return true;
      default: return times(f, p);
    }
  });
}

// Gauge, Sum, Histogram, ExponentialHistogram and Summary: data_points = 1, and for the
// aggregations aggregation_temporality = 2 (Sum also is_monotonic = 3).
template <class Data, class DecodePoint>
bool metric_data(Decoder& d, std::string_view message, Data& data, DecodePoint&& decode_point) {
  return d.fields(message, [&](const Field& f) {
    if (f.number == 1 && is_len(f)) {
      return d.count_point() && d.element("data_points", f, data.data_points, [&](std::string_view m, auto& p) {
               return decode_point(d, m, p);
             });
    }
    if constexpr (requires { data.temporality; }) {
      if (f.number == 2 && is_varint(f)) data.temporality = static_cast<AggregationTemporality>(static_cast<std::int32_t>(f.number_value));
    }
    if constexpr (requires { data.is_monotonic; }) {
      if (f.number == 3 && is_varint(f)) data.is_monotonic = f.number_value != 0;
    }
    return true;
  });
}

// A oneof member seen again is merged into the one before, as protobuf merges repeated
// occurrences of a message field; another member replaces it.
template <class Data>
Data& data_of(Metric& m) {
  if (!std::holds_alternative<Data>(m.data)) m.data = Data{};
  return std::get<Data>(m.data);
}

bool metric(Decoder& d, std::string_view message, Metric& m) {
  return d.fields(message, [&](const Field& f) {
    if (is_len(f)) {
      switch (f.number) {
        case 1: m.name.assign(f.bytes); break;
        case 2: m.description.assign(f.bytes); break;
        case 3: m.unit.assign(f.bytes); break;
        case 5: return metric_data(d, f.bytes, data_of<GaugeData>(m), number_point) || d.fail_in("gauge");
        case 7: return metric_data(d, f.bytes, data_of<SumData>(m), number_point) || d.fail_in("sum");
        case 9: return metric_data(d, f.bytes, data_of<HistogramData>(m), histogram_point) || d.fail_in("histogram");
        case 10:
          return metric_data(d, f.bytes, data_of<ExponentialHistogramData>(m), exponential_point) ||
                 d.fail_in("exponential_histogram");
        case 11: return metric_data(d, f.bytes, data_of<SummaryData>(m), summary_point) || d.fail_in("summary");
        default: break;
      }
    }
    return true;
  });
}

bool scope_metrics(Decoder& d, std::string_view message, ScopeMetrics& s) {
  return d.fields(message, [&](const Field& f) {
    if (f.number == 1 && is_len(f)) {
      // InstrumentationScope: name = 1, version = 2 (attributes are not kept).
      return d.fields(f.bytes, [&](const Field& g) {
        if (g.number == 1 && is_len(g)) s.scope_name.assign(g.bytes);
        else if (g.number == 2 && is_len(g)) s.scope_version.assign(g.bytes);
        return true;
      }) || d.fail_in("scope");
    }
    if (f.number == 2 && is_len(f)) {
      return d.element("metrics", f, s.metrics, [&](std::string_view m, Metric& x) { return metric(d, m, x); });
    }
    return true;
  });
}

bool resource_metrics(Decoder& d, std::string_view message, ResourceMetrics& r) {
  return d.fields(message, [&](const Field& f) {
    if (f.number == 1 && is_len(f)) {
      return d.fields(f.bytes, [&](const Field& g) { return g.number != 1 || !is_len(g) || d.attribute(g, r.resource); }) ||
             d.fail_in("resource");
    }
    if (f.number == 2 && is_len(f)) {
      return d.element("scope_metrics", f, r.scope_metrics,
                       [&](std::string_view m, ScopeMetrics& s) { return scope_metrics(d, m, s); });
    }
    return true;
  });
}

}  // namespace metrics_proto
}  // namespace

bool decode_metrics_request(std::string_view wire_bytes, MetricsBatch& out, std::string& error,
                            const OtlpDecodeLimits& limits) {
  using namespace metrics_proto;
  out = MetricsBatch{};
  error.clear();
  if (wire_bytes.size() > limits.max_bytes) {
    error = "request of " + std::to_string(wire_bytes.size()) + " bytes exceeds the limit of " +
            std::to_string(limits.max_bytes);
    return false;
  }
  Decoder d(limits, error);
  return d.fields(wire_bytes, [&](const Field& f) {
    if (f.number != 1 || !is_len(f)) return true;
    return d.element("resource_metrics", f, out.resource_metrics,
                     [&](std::string_view m, ResourceMetrics& r) { return resource_metrics(d, m, r); });
  });
}

}  // namespace porthole::telemetry
