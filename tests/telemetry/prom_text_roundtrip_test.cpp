// TextSerializer output parses back into families that serialise to the same text.
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "porthole/telemetry/prom_text.hpp"
#include "prom_text_test_util.hpp"

namespace porthole::telemetry {
namespace {

std::string serialize(const std::vector<prometheus::MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

class PromTextRoundTrip : public ::testing::Test {
 protected:
  PromTextRoundTrip() {
    using namespace prometheus;
    // Help is given in wire form, the convention prom_text.hpp documents.
    auto& requests = BuildCounter()
                         .Name("http_requests_total")
                         .Help("Requests \\\\ served\\nper path.")
                         .Register(registry_);
    requests.Add({{"path", "/a\"b\\c\nd"}, {"code", "200"}}).Increment(3);
    requests.Add({{"path", "/"}, {"code", "500"}}).Increment(1e15);
    auto& temperature = BuildGauge().Name("temperature_celsius").Help("t").Register(registry_);
    temperature.Add({}).Set(-12.25);
    temperature.Add({{"sensor", "nan"}}).Set(std::nan(""));
    temperature.Add({{"sensor", "inf"}}).Set(-INFINITY);
    temperature.Add({{"sensor", "tiny"}}).Set(1.23456789e-9);
    auto& latency = BuildHistogram().Name("latency_seconds").Help("h").Register(registry_);
    auto& get = latency.Add({{"method", "GET"}}, Histogram::BucketBoundaries{0.1, 1, 10});
    get.Observe(0.5);
    get.Observe(20);
    latency.Add({{"method", "PUT"}}, Histogram::BucketBoundaries{0.5}).Observe(0.25);
    auto& sizes = BuildSummary().Name("payload_bytes").Help("s").Register(registry_);
    sizes.Add({{"dir", "in"}}, Summary::Quantiles{{0.5, 0.05}, {0.99, 0.001}}).Observe(4096);
    sizes.Add({{"dir", "out"}}, Summary::Quantiles{{0.9, 0.01}});  // no observations: NaN
  }

  prometheus::Registry registry_;
};

TEST_F(PromTextRoundTrip, SerializedRegistryParsesBackToTheSameText) {
  const std::string text = serialize(registry_.Collect());
  const auto parsed = testing::parse_clean(text);
  ASSERT_EQ(parsed.families.size(), 4u);
  EXPECT_EQ(serialize(parsed.families), text);
}

TEST_F(PromTextRoundTrip, ParsedModelMatchesTheRegistry) {
  const auto collected = registry_.Collect();
  const auto parsed = testing::parse_clean(serialize(collected));
  ASSERT_EQ(parsed.families.size(), collected.size());
  for (std::size_t f = 0; f < collected.size(); ++f) {
    const auto& want = collected[f];
    const auto& got = parsed.families[f];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.help, want.help);
    EXPECT_EQ(got.type, want.type);
    ASSERT_EQ(got.metric.size(), want.metric.size());
    for (std::size_t m = 0; m < want.metric.size(); ++m) {
      EXPECT_EQ(got.metric[m].label, want.metric[m].label);
      EXPECT_EQ(got.metric[m].histogram.sample_count, want.metric[m].histogram.sample_count);
      ASSERT_EQ(got.metric[m].histogram.bucket.size(), want.metric[m].histogram.bucket.size());
      for (std::size_t b = 0; b < want.metric[m].histogram.bucket.size(); ++b) {
        EXPECT_EQ(got.metric[m].histogram.bucket[b].cumulative_count,
                  want.metric[m].histogram.bucket[b].cumulative_count);
      }
      EXPECT_EQ(got.metric[m].summary.sample_count, want.metric[m].summary.sample_count);
      EXPECT_EQ(got.metric[m].summary.quantile.size(), want.metric[m].summary.quantile.size());
    }
  }
}

TEST_F(PromTextRoundTrip, RelabelledOutputStillParses) {
  auto families = testing::parse_clean(serialize(registry_.Collect())).families;
  set_labels(families, {{"enclave", "e\"1\n"}});
  const auto again = testing::parse_clean(serialize(families));
  ASSERT_EQ(again.families.size(), 4u);
  for (const auto& family : again.families) {
    for (const auto& metric : family.metric) {
      const prometheus::ClientMetric::Label want{"enclave", "e\"1\n"};
      EXPECT_NE(std::find(metric.label.begin(), metric.label.end(), want), metric.label.end());
    }
  }
}

TEST(PromTextHostileHelp, EscapedNewlineCannotInjectSamplesOnReserialisation) {
  const auto parsed = testing::parse_clean("# HELP a x\\nfake_series 1\na 1\n");
  const auto again = testing::parse_clean(serialize(parsed.families));
  ASSERT_EQ(again.families.size(), 1u);
  EXPECT_EQ(again.families[0].name, "a");
}

}  // namespace
}  // namespace porthole::telemetry
