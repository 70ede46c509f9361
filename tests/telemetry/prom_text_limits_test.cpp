// The caps that keep hostile input from costing unbounded memory or work.
#include <gtest/gtest.h>

#include <string>

#include "porthole/telemetry/prom_text.hpp"

namespace porthole::telemetry {
namespace {

TEST(PromTextLimits, InputOverMaxBytesIsRejectedWhole) {
  const std::string text = "a 1\nb 2\n";  // 8 bytes
  const auto result = parse_prometheus_text(text, {.max_bytes = 7});
  EXPECT_TRUE(result.families.empty());
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].line, 0u);
  EXPECT_EQ(result.errors[0].message, "input is 8 bytes, over the limit of 7; nothing parsed");
  EXPECT_TRUE(parse_prometheus_text(text, {.max_bytes = 8}).errors.empty());
}

TEST(PromTextLimits, FamilyCapStopsParsingAndKeepsWhatCameBefore) {
  const auto result = parse_prometheus_text("a 1\nb 2\nc 3\na{x=\"1\"} 4\n", {.max_families = 2});
  ASSERT_EQ(result.families.size(), 2u);
  EXPECT_EQ(result.families[0].metric.size(), 1u);  // the line after the stop was not read
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].line, 3u);
  EXPECT_EQ(result.errors[0].message, "line 3: more than 2 metric families; parsing stopped");
}

TEST(PromTextLimits, FamiliesDeclaredByHelpOrTypeCount) {
  const auto result =
      parse_prometheus_text("# HELP a x\n# TYPE b gauge\nc 1\n", {.max_families = 2});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].message, "line 3: more than 2 metric families; parsing stopped");
}

TEST(PromTextLimits, SeriesCapCountsLabelSetsAcrossFamilies) {
  const std::string text =
      "# TYPE h histogram\n"
      "h_bucket{le=\"1\"} 1\n"
      "h_bucket{le=\"+Inf\"} 1\n"  // same series as the line before
      "g{a=\"1\"} 1\n"
      "g{a=\"2\"} 1\n";
  const auto result = parse_prometheus_text(text, {.max_series = 2});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].message, "line 5: more than 2 series; parsing stopped");
  ASSERT_EQ(result.families.size(), 2u);
  EXPECT_EQ(result.families[0].metric.at(0).histogram.bucket.size(), 2u);
  EXPECT_TRUE(parse_prometheus_text(text, {.max_series = 3}).errors.empty());
}

TEST(PromTextLimits, LabelCapsAreInclusive) {
  const PromParseLimits limits{.max_labels_per_series = 2, .max_label_value_bytes = 3};
  EXPECT_TRUE(parse_prometheus_text("a{x=\"abc\",y=\"\\\\\\\\\\\\\"} 1\n", limits).errors.empty());
  EXPECT_EQ(parse_prometheus_text("a{x=\"1\",y=\"2\",z=\"3\"} 1\n", limits).errors.size(), 1u);
  EXPECT_EQ(parse_prometheus_text("a{x=\"abcd\"} 1\n", limits).errors.size(), 1u);
}

TEST(PromTextLimits, ErrorsBeyondMaxErrorsAreOnlyCounted) {
  std::string text;
  for (int i = 0; i < 10; ++i) text += "bad-line 1\n";
  text += "good 1\n";
  const auto result = parse_prometheus_text(text, {.max_errors = 3});
  EXPECT_EQ(result.errors.size(), 3u);
  EXPECT_EQ(result.suppressed_errors, 7u);
  EXPECT_EQ(result.families.size(), 1u);
}

TEST(PromTextLimits, StopIsReportedEvenPastMaxErrors) {
  const auto result =
      parse_prometheus_text("x-1 1\nx-2 1\na 1\nb 1\n", {.max_families = 1, .max_errors = 2});
  ASSERT_EQ(result.errors.size(), 3u);
  EXPECT_EQ(result.errors[2].message, "line 4: more than 1 metric families; parsing stopped");
}

TEST(PromTextLimits, ManyBucketsInOneSeriesParseInReasonableTime) {
  // Duplicate detection must not be quadratic in the number of buckets of a series.
  std::string text = "# TYPE h histogram\n";
  for (int i = 0; i < 100000; ++i) text += "h_bucket{le=\"" + std::to_string(i) + "\"} 1\n";
  const auto result = parse_prometheus_text(text);
  EXPECT_TRUE(result.errors.empty());
  EXPECT_EQ(result.families.at(0).metric.at(0).histogram.bucket.size(), 100000u);
}

}  // namespace
}  // namespace porthole::telemetry
