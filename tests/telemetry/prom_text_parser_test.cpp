// What the parser accepts and the model it builds from it.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "porthole/telemetry/prom_text.hpp"
#include "prom_text_test_util.hpp"

namespace porthole::telemetry {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricType;
using testing::find_family;
using testing::parse_clean;
using Labels = std::vector<ClientMetric::Label>;

TEST(PromTextParser, EmptyAndCommentOnlyInputGiveNothing) {
  EXPECT_TRUE(parse_clean("").families.empty());
  EXPECT_TRUE(parse_clean("\n\n  \t\n# just a comment\n#\n# HELPER x\n").families.empty());
}

TEST(PromTextParser, HelpAndTypeDescribeTheFamily) {
  const auto result = parse_clean(
      "# HELP http_requests_total Requests served.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{code=\"200\"} 1027\n");
  ASSERT_EQ(result.families.size(), 1u);
  const auto& family = result.families[0];
  // Counters keep the name as written: TextSerializer 1.0.1 writes family.name verbatim.
  EXPECT_EQ(family.name, "http_requests_total");
  EXPECT_EQ(family.help, "Requests served.");
  EXPECT_EQ(family.type, MetricType::Counter);
  ASSERT_EQ(family.metric.size(), 1u);
  EXPECT_EQ(family.metric[0].label, (Labels{{"code", "200"}}));
  EXPECT_EQ(family.metric[0].counter.value, 1027.0);
}

TEST(PromTextParser, HelpKeepsItsWireEscapes) {
  const auto result = parse_clean("# HELP g  a \\\\ b \\n c  \ng 1\n");
  ASSERT_EQ(result.families.size(), 1u);
  EXPECT_EQ(result.families[0].help, "a \\\\ b \\n c  ");
}

TEST(PromTextParser, SamplesWithoutTypeAreUntyped) {
  const auto result = parse_clean("a 1\nb{x=\"y\"} 2\n");
  ASSERT_EQ(result.families.size(), 2u);
  EXPECT_EQ(result.families[0].type, MetricType::Untyped);
  EXPECT_EQ(result.families[0].metric[0].untyped.value, 1.0);
  EXPECT_EQ(result.families[1].metric[0].untyped.value, 2.0);
}

TEST(PromTextParser, GaugeValueIsStored) {
  const auto result = parse_clean("# TYPE t gauge\nt -3.5\n");
  ASSERT_EQ(result.families.size(), 1u);
  EXPECT_EQ(result.families[0].metric[0].gauge.value, -3.5);
}

TEST(PromTextParser, FamiliesWithoutSamplesAreLeftOut) {
  const auto result = parse_clean("# HELP a x\n# TYPE b gauge\nc 1\n");
  ASSERT_EQ(result.families.size(), 1u);
  EXPECT_EQ(result.families[0].name, "c");
}

TEST(PromTextParser, LabelValueEscapesAreDecoded) {
  const auto result = parse_clean(R"(m{a="x\\y",b="say \"hi\"",c="1\n2",d="π"} 1)");
  ASSERT_EQ(result.families.size(), 1u);
  EXPECT_EQ(result.families[0].metric[0].label,
            (Labels{{"a", "x\\y"}, {"b", "say \"hi\""}, {"c", "1\n2"}, {"d", "π"}}));
}

TEST(PromTextParser, LabelsAreSortedByName) {
  const auto result = parse_clean("m{z=\"1\",a=\"2\",m=\"3\"} 1\n");
  EXPECT_EQ(result.families.at(0).metric.at(0).label, (Labels{{"a", "2"}, {"m", "3"}, {"z", "1"}}));
}

TEST(PromTextParser, WhitespaceAndTrailingCommaAreTolerated) {
  const auto result = parse_clean(
      "  \tm { a = \"1\" , b=\"2\", } \t 7 \t 1700000000000 \r\n"
      "n{} 8\n"
      "o{a=\"1\",}9");
  ASSERT_EQ(result.families.size(), 3u);
  const auto& m = result.families[0].metric.at(0);
  EXPECT_EQ(m.label, (Labels{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(m.untyped.value, 7.0);
  EXPECT_EQ(m.timestamp_ms, 1700000000000);
  EXPECT_TRUE(result.families[1].metric.at(0).label.empty());
  EXPECT_EQ(result.families[2].metric.at(0).untyped.value, 9.0);
}

TEST(PromTextParser, SpecialAndExponentValues) {
  const auto result = parse_clean(
      "a +Inf\nb -Inf\nc NaN\nd Nan\ne 1.5e3\nf -2E-2\ng .5\nh 7.\ni inf\nj -infinity\n"
      "k 1e-310\n");
  auto value = [&](std::string_view name) {
    return find_family(result, name)->metric.at(0).untyped.value;
  };
  EXPECT_EQ(value("a"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(value("b"), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(value("c")));
  EXPECT_TRUE(std::isnan(value("d")));  // how TextSerializer 1.0.1 writes NaN
  EXPECT_EQ(value("e"), 1500.0);
  EXPECT_EQ(value("f"), -0.02);
  EXPECT_EQ(value("g"), 0.5);
  EXPECT_EQ(value("h"), 7.0);
  EXPECT_EQ(value("i"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(value("j"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(value("k"), 1e-310);
}

TEST(PromTextParser, NegativeTimestampIsAccepted) {
  EXPECT_EQ(parse_clean("a 1 -5\n").families.at(0).metric.at(0).timestamp_ms, -5);
}

TEST(PromTextParser, HistogramSamplesGroupPerLabelSetWithSortedBuckets) {
  const auto result = parse_clean(
      "# TYPE lat histogram\n"
      "lat_bucket{m=\"GET\",le=\"+Inf\"} 4\n"
      "lat_bucket{le=\"0.1\",m=\"GET\"} 1\n"
      "lat_bucket{m=\"PUT\",le=\"1\"} 5\n"
      "lat_bucket{m=\"GET\",le=\"1\"} 3\n"
      "lat_sum{m=\"GET\"} 2.5\n"
      "lat_count{m=\"GET\"} 4\n"
      "lat_count{m=\"PUT\"} 5\n");
  ASSERT_EQ(result.families.size(), 1u);
  const auto& family = result.families[0];
  EXPECT_EQ(family.type, MetricType::Histogram);
  ASSERT_EQ(family.metric.size(), 2u);
  const auto& get = family.metric[0];
  EXPECT_EQ(get.label, (Labels{{"m", "GET"}}));
  EXPECT_EQ(get.histogram.sample_count, 4u);
  EXPECT_EQ(get.histogram.sample_sum, 2.5);
  ASSERT_EQ(get.histogram.bucket.size(), 3u);
  EXPECT_EQ(get.histogram.bucket[0].upper_bound, 0.1);
  EXPECT_EQ(get.histogram.bucket[0].cumulative_count, 1u);
  EXPECT_EQ(get.histogram.bucket[1].upper_bound, 1.0);
  EXPECT_EQ(get.histogram.bucket[1].cumulative_count, 3u);
  EXPECT_EQ(get.histogram.bucket[2].upper_bound, std::numeric_limits<double>::infinity());
  EXPECT_EQ(get.histogram.bucket[2].cumulative_count, 4u);
  const auto& put = family.metric[1];
  EXPECT_EQ(put.label, (Labels{{"m", "PUT"}}));
  EXPECT_EQ(put.histogram.sample_count, 5u);
  ASSERT_EQ(put.histogram.bucket.size(), 1u);
}

TEST(PromTextParser, SummarySamplesGroupPerLabelSet) {
  const auto result = parse_clean(
      "# TYPE rpc summary\n"
      "rpc{quantile=\"0.5\",svc=\"a\"} 0.2\n"
      "rpc{quantile=\"0.99\",svc=\"a\"} NaN\n"
      "rpc_sum{svc=\"a\"} 9\n"
      "rpc_count{svc=\"a\"} 30\n"
      "rpc_count{svc=\"b\"} 0\n");
  ASSERT_EQ(result.families.size(), 1u);
  const auto& family = result.families[0];
  EXPECT_EQ(family.type, MetricType::Summary);
  ASSERT_EQ(family.metric.size(), 2u);
  const auto& a = family.metric[0].summary;
  EXPECT_EQ(family.metric[0].label, (Labels{{"svc", "a"}}));
  EXPECT_EQ(a.sample_sum, 9.0);
  EXPECT_EQ(a.sample_count, 30u);
  ASSERT_EQ(a.quantile.size(), 2u);
  EXPECT_EQ(a.quantile[0].quantile, 0.5);
  EXPECT_EQ(a.quantile[0].value, 0.2);
  EXPECT_EQ(a.quantile[1].quantile, 0.99);
  EXPECT_TRUE(std::isnan(a.quantile[1].value));
  EXPECT_EQ(family.metric[1].label, (Labels{{"svc", "b"}}));
}

TEST(PromTextParser, SuffixesOnlyGroupUnderADeclaredParent) {
  // Without a TYPE, x_sum/x_count are their own untyped families; _bucket never joins a summary;
  // `le`/`quantile` are ordinary labels outside histograms/summaries.
  const auto result = parse_clean(
      "x_sum 1\nx_count 2\n# TYPE s summary\ns_bucket{le=\"1\"} 3\nc{quantile=\"a\"} 1\n");
  ASSERT_EQ(result.families.size(), 4u);
  for (const auto& family : result.families) EXPECT_EQ(family.type, MetricType::Untyped);
  EXPECT_EQ(result.families[2].name, "s_bucket");
  EXPECT_EQ(result.families[2].metric[0].label, (Labels{{"le", "1"}}));
}

TEST(PromTextParser, SamplesOfAFamilyNeedNotBeContiguous) {
  const auto result = parse_clean("# TYPE g gauge\ng{a=\"1\"} 1\nh 2\ng{a=\"2\"} 3\n");
  ASSERT_EQ(result.families.size(), 2u);
  EXPECT_EQ(result.families[0].metric.size(), 2u);
}

TEST(PromTextParser, TimestampOfTheFirstSampleIsKept) {
  // Parsed for completeness; the relay drops timestamps before re-exposing.
  const auto result = parse_clean("# TYPE h histogram\nh_count 1 100\nh_sum 2 200\n");
  EXPECT_EQ(result.families.at(0).metric.at(0).timestamp_ms, 100);
}

TEST(PromTextParser, BadLineIsSkippedAndTheRestKept) {
  const auto result = parse_prometheus_text("a 1\nb-c 2\nd 3\n");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].line, 2u);
  EXPECT_EQ(result.errors[0].message, "line 2: invalid metric name 'b-c'");
  ASSERT_EQ(result.families.size(), 2u);
  EXPECT_EQ(result.families[1].name, "d");
}

}  // namespace
}  // namespace porthole::telemetry
