// libFuzzer target for the OTLP metrics decoders and their conversion to Prometheus families. The
// first byte picks the decoder: even protobuf, odd JSON. Whatever decodes must
//   - re-encode to protobuf bytes that decode to the same model (compared as bytes, so NaN
//     doubles compare equal), and
//   - convert, pass the default telemetry policy and serialise to text that the sidecar's strict
//     parser reads without a single error: what the agent serves has to arrive whole. (The one
//     exception is a family named like another's _bucket/_sum/_count line, which the text format
//     cannot tell apart.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include <prometheus/text_serializer.h>

#include "porthole/telemetry/otlp_metrics.hpp"
#include "porthole/telemetry/otlp_metrics_prometheus.hpp"
#include "porthole/telemetry/prom_text.hpp"

#include "otlp_fuzz_limits.hpp"

namespace {

using namespace porthole::telemetry;

bool names_clash(const std::vector<prometheus::MetricFamily>& families) {
  std::set<std::string> names;
  for (const auto& f : families) names.insert(f.name);
  for (const auto& f : families) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (names.count(f.name + suffix) > 0) return true;
    }
  }
  return false;
}

void check_conversion(const MetricsBatch& batch) {
  static const TelemetryPolicy policy = default_telemetry_policy();
  auto conversion = convert_metrics(batch, policy);
  if (conversion.rejected_total() > 0 && conversion.first_error.empty()) std::abort();  // a refusal says why
  apply_policy(policy, conversion.families);
  for (auto& f : conversion.families) {
    for (auto& m : f.metric) {
      (void)conversion.info(m);  // every series still knows its point
      m.timestamp_ms = 0;
    }
  }
  const std::string text = prometheus::TextSerializer().Serialize(conversion.families);
  const auto parsed = parse_prometheus_text(text);
  if (!parsed.errors.empty() && !names_clash(conversion.families)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  MetricsBatch first;
  std::string error;
  const bool json = data[0] % 2 == 1;
  const bool ok = json ? decode_metrics_request_json(input, first, error, otlp_fuzz_limits())
                       : decode_metrics_request(input, first, error, otlp_fuzz_limits());
  if (!ok) {
    if (error.empty()) std::abort();  // a failure must say why
    return 0;
  }
  const std::string wire = encode_metrics_request(first);
  MetricsBatch second;
  if (!decode_metrics_request(wire, second, error, OtlpDecodeLimits{})) std::abort();
  if (encode_metrics_request(second) != wire) std::abort();
  check_conversion(first);
  return 0;
}
