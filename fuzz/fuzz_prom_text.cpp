// libFuzzer target for the Prometheus text parser: it must never crash, and whatever it accepts
// must re-serialise (TextSerializer 1.0.1) into text it accepts again without loss of series.
#include <prometheus/text_serializer.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "porthole/telemetry/prom_text.hpp"

namespace {

std::size_t series_count(const std::vector<prometheus::MetricFamily>& families) {
  std::size_t n = 0;
  for (const auto& family : families) n += family.metric.size();
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace porthole::telemetry;
  // Small caps so the fuzzer reaches the limit paths too.
  const PromParseLimits limits{.max_bytes = 1 << 16,
                               .max_families = 64,
                               .max_series = 256,
                               .max_labels_per_series = 8,
                               .max_label_value_bytes = 64,
                               .max_errors = 16};
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto first = parse_prometheus_text(text, limits);
  set_labels(first.families, {{"enclave", "fuzz\"\\\n"}});

  const std::string again_text = prometheus::TextSerializer().Serialize(first.families);
  PromParseLimits roomy;  // the relabelled output may exceed the small caps above
  const auto again = parse_prometheus_text(again_text, roomy);
  if (!again.errors.empty() || again.families.size() != first.families.size() ||
      series_count(again.families) != series_count(first.families)) {
    std::abort();
  }

  auto base = std::move(first.families);
  merge_families(base, parse_prometheus_text(text, limits).families);
  return 0;
}
