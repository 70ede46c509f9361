// ExportMetricsServiceRequest to protobuf (for tests, the fuzzer and benchmarks: the agent only
// decodes metrics), and the response the receiver answers with.
#include <bit>

#include "porthole/telemetry/otlp_metrics.hpp"
#include "protobuf_wire.hpp"

namespace porthole::telemetry {
namespace {

using namespace wire;

void put_double(std::string& out, std::uint32_t number, double v) { put_fixed64(out, number, std::bit_cast<std::uint64_t>(v)); }
void put_double_if(std::string& out, std::uint32_t number, const std::optional<double>& v) {
  if (v) put_double(out, number, *v);
}
// sint32 (zigzag), left out when 0.
void put_sint32_if(std::string& out, std::uint32_t number, std::int32_t v) {
  if (v != 0) put_int(out, number, (static_cast<std::uint32_t>(v) << 1) ^ static_cast<std::uint32_t>(v >> 31));
}

void put_attributes(std::string& out, std::uint32_t number, const MetricAttributes& attributes) {
  for (const auto& a : attributes) {
    put_message(out, number, [&](std::string& kv) {
      put_bytes_if(kv, 1, a.key);
      if (!a.value.empty()) put_message(kv, 2, [&](std::string& any) { put_bytes(any, 1, a.value); });
    });
  }
}

template <class Point>
void put_times(std::string& out, const Point& p) {
  put_fixed64_if(out, 2, p.start_time_unix_nano);
  put_fixed64_if(out, 3, p.time_unix_nano);
}

void put_number_point(std::string& out, const NumberDataPoint& p) {
  put_times(out, p);
  if (const auto* d = std::get_if<double>(&p.value)) put_double(out, 4, *d);
  if (const auto* i = std::get_if<std::int64_t>(&p.value)) put_fixed64(out, 6, static_cast<std::uint64_t>(*i));
  put_attributes(out, 7, p.attributes);
  put_int_if(out, 8, p.flags);
}

void put_histogram_point(std::string& out, const HistogramDataPoint& p) {
  put_times(out, p);
  put_fixed64_if(out, 4, p.count);
  put_double_if(out, 5, p.sum);
  if (!p.bucket_counts.empty()) {
    put_message(out, 6, [&](std::string& packed) {
      for (auto c : p.bucket_counts) packed.append(reinterpret_cast<const char*>(&c), 8);  // little-endian hosts
    });
  }
  if (!p.explicit_bounds.empty()) {
    put_message(out, 7, [&](std::string& packed) {
      for (auto b : p.explicit_bounds) packed.append(reinterpret_cast<const char*>(&b), 8);
    });
  }
  put_attributes(out, 9, p.attributes);
  put_int_if(out, 10, p.flags);
  put_double_if(out, 11, p.min);
  put_double_if(out, 12, p.max);
}

void put_buckets(std::string& out, std::uint32_t number, const ExponentialBuckets& b) {
  if (b.offset == 0 && b.bucket_counts.empty()) return;
  put_message(out, number, [&](std::string& m) {
    put_sint32_if(m, 1, b.offset);
    if (b.bucket_counts.empty()) return;
    put_message(m, 2, [&](std::string& packed) {
      for (auto c : b.bucket_counts) put_varint(packed, c);
    });
  });
}

void put_exponential_point(std::string& out, const ExponentialHistogramDataPoint& p) {
  put_attributes(out, 1, p.attributes);
  put_times(out, p);
  put_fixed64_if(out, 4, p.count);
  put_double_if(out, 5, p.sum);
  put_sint32_if(out, 6, p.scale);
  put_fixed64_if(out, 7, p.zero_count);
  put_buckets(out, 8, p.positive);
  put_buckets(out, 9, p.negative);
  put_int_if(out, 10, p.flags);
  put_double_if(out, 12, p.min);
  put_double_if(out, 13, p.max);
  if (p.zero_threshold != 0) put_double(out, 14, p.zero_threshold);
}

void put_summary_point(std::string& out, const SummaryDataPoint& p) {
  put_times(out, p);
  put_fixed64_if(out, 4, p.count);
  if (p.sum != 0) put_double(out, 5, p.sum);
  for (const auto& q : p.quantile_values) {
    put_message(out, 6, [&](std::string& m) {
      if (q.quantile != 0) put_double(m, 1, q.quantile);
      if (q.value != 0) put_double(m, 2, q.value);
    });
  }
  put_attributes(out, 7, p.attributes);
  put_int_if(out, 8, p.flags);
}

template <class Data, class PutPoint>
void put_data(std::string& out, std::uint32_t number, const Data& data, PutPoint&& put_point) {
  put_message(out, number, [&](std::string& m) {
    for (const auto& p : data.data_points) put_message(m, 1, [&](std::string& pm) { put_point(pm, p); });
    if constexpr (requires { data.temporality; }) put_int_if(m, 2, static_cast<std::int32_t>(data.temporality));
    if constexpr (requires { data.is_monotonic; }) put_int_if(m, 3, data.is_monotonic ? 1 : 0);
  });
}

void put_metric(std::string& out, const Metric& metric) {
  put_bytes_if(out, 1, metric.name);
  put_bytes_if(out, 2, metric.description);
  put_bytes_if(out, 3, metric.unit);
  std::visit(
      [&](const auto& data) {
        using T = std::decay_t<decltype(data)>;
        if constexpr (std::is_same_v<T, GaugeData>) put_data(out, 5, data, put_number_point);
        else if constexpr (std::is_same_v<T, SumData>) put_data(out, 7, data, put_number_point);
        else if constexpr (std::is_same_v<T, HistogramData>) put_data(out, 9, data, put_histogram_point);
        else if constexpr (std::is_same_v<T, ExponentialHistogramData>) put_data(out, 10, data, put_exponential_point);
        else if constexpr (std::is_same_v<T, SummaryData>) put_data(out, 11, data, put_summary_point);
      },
      metric.data);
}

}  // namespace

std::size_t count_data_points(const MetricsBatch& batch) {
  std::size_t n = 0;
  for (const auto& r : batch.resource_metrics) {
    for (const auto& s : r.scope_metrics) {
      for (const auto& m : s.metrics) {
        std::visit(
            [&](const auto& data) {
              if constexpr (requires { data.data_points; }) n += data.data_points.size();
            },
            m.data);
      }
    }
  }
  return n;
}

std::string encode_metrics_request(const MetricsBatch& batch) {
  static_assert(std::endian::native == std::endian::little, "packed fixed64 is written from memory");
  std::string out;
  for (const auto& r : batch.resource_metrics) {
    put_message(out, 1, [&](std::string& rm) {
      if (!r.resource.empty()) put_message(rm, 1, [&](std::string& res) { put_attributes(res, 1, r.resource); });
      for (const auto& s : r.scope_metrics) {
        put_message(rm, 2, [&](std::string& sm) {
          if (!s.scope_name.empty() || !s.scope_version.empty()) {
            put_message(sm, 1, [&](std::string& scope) {
              put_bytes_if(scope, 1, s.scope_name);
              put_bytes_if(scope, 2, s.scope_version);
            });
          }
          for (const auto& m : s.metrics) put_message(sm, 2, [&](std::string& mm) { put_metric(mm, m); });
        });
      }
    });
  }
  return out;
}

// The same wire shape as the trace and logs responses: partial_success = 1 {int64 = 1, string = 2}.
std::string encode_metrics_response(const OtlpPartialSuccess& partial) { return encode_trace_response(partial); }

}  // namespace porthole::telemetry
