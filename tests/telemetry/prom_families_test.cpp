// Relabelling and merging of parsed families.
#include <gtest/gtest.h>

#include "porthole/telemetry/prom_text.hpp"
#include "prom_text_test_util.hpp"

namespace porthole::telemetry {
namespace {

using prometheus::MetricType;
using testing::parse_clean;
using Labels = std::vector<prometheus::ClientMetric::Label>;

TEST(SetLabels, AddsToEveryMetricOfEveryFamilyKeepingLabelsSorted) {
  auto families = parse_clean(
                      "# TYPE h histogram\nh_count{m=\"a\"} 1\nh_count{m=\"b\"} 1\n"
                      "g{z=\"1\"} 2\nu 3\n")
                      .families;
  EXPECT_EQ(set_labels(families, {{"enclave", "e1"}, {"n", "x"}}), 0u);
  EXPECT_EQ(families[0].metric[0].label, (Labels{{"enclave", "e1"}, {"m", "a"}, {"n", "x"}}));
  EXPECT_EQ(families[0].metric[1].label, (Labels{{"enclave", "e1"}, {"m", "b"}, {"n", "x"}}));
  EXPECT_EQ(families[1].metric[0].label, (Labels{{"enclave", "e1"}, {"n", "x"}, {"z", "1"}}));
  EXPECT_EQ(families[2].metric[0].label, (Labels{{"enclave", "e1"}, {"n", "x"}}));
}

TEST(SetLabels, OverwritesExistingValues) {
  auto families = parse_clean("g{enclave=\"spoofed\",a=\"1\"} 1\n").families;
  set_labels(families, {{"enclave", "real"}});
  EXPECT_EQ(families[0].metric[0].label, (Labels{{"a", "1"}, {"enclave", "real"}}));
}

TEST(SetLabels, DropsSeriesThatOverwritingMadeIdentical) {
  auto families =
      parse_clean("g{enclave=\"x\"} 1\ng{enclave=\"y\"} 2\ng{enclave=\"z\",k=\"1\"} 3\n").families;
  EXPECT_EQ(set_labels(families, {{"enclave", "e1"}}), 1u);
  ASSERT_EQ(families[0].metric.size(), 2u);
  EXPECT_EQ(families[0].metric[0].untyped.value, 1.0);  // the first one is kept
  EXPECT_EQ(families[0].metric[1].untyped.value, 3.0);
}

TEST(MergeFamilies, ConcatenatesSameNameAndTypeAndAppendsNewOnes) {
  auto base = parse_clean("# TYPE g gauge\ng{src=\"base\"} 1\nb 1\n").families;
  auto extra =
      parse_clean("# HELP g from extra\n# TYPE g gauge\ng{src=\"extra\"} 2\nn 5\n").families;
  const auto dropped = merge_families(base, std::move(extra));
  EXPECT_TRUE(dropped.empty());
  ASSERT_EQ(base.size(), 3u);
  EXPECT_EQ(base[0].name, "g");
  EXPECT_EQ(base[0].help, "from extra");  // base had none
  ASSERT_EQ(base[0].metric.size(), 2u);
  EXPECT_EQ(base[0].metric[1].label, (Labels{{"src", "extra"}}));
  EXPECT_EQ(base[0].metric[1].gauge.value, 2.0);
  EXPECT_EQ(base[2].name, "n");
}

TEST(MergeFamilies, BaseHelpWins) {
  auto base = parse_clean("# HELP g base help\ng{a=\"1\"} 1\n").families;
  auto extra = parse_clean("# HELP g extra help\ng{a=\"2\"} 1\n").families;
  merge_families(base, std::move(extra));
  EXPECT_EQ(base.at(0).help, "base help");
  EXPECT_EQ(base.at(0).metric.size(), 2u);
}

TEST(MergeFamilies, DropsExtraFamilyWhoseTypeConflicts) {
  auto base = parse_clean("# TYPE x counter\nx 1\n").families;
  auto extra = parse_clean("# TYPE x gauge\nx 2\n# TYPE y gauge\ny 3\n").families;
  const auto dropped = merge_families(base, std::move(extra));
  EXPECT_EQ(dropped, (std::vector<std::string>{"x"}));
  ASSERT_EQ(base.size(), 2u);
  EXPECT_EQ(base[0].type, MetricType::Counter);
  ASSERT_EQ(base[0].metric.size(), 1u);
  EXPECT_EQ(base[0].metric[0].counter.value, 1.0);
  EXPECT_EQ(base[1].name, "y");
}

TEST(MergeFamilies, SameNameTwiceInExtraIsConcatenatedToo) {
  std::vector<prometheus::MetricFamily> base;
  std::vector<prometheus::MetricFamily> extra(2);
  extra[0].name = extra[1].name = "u";
  extra[0].metric.resize(1);
  extra[1].metric.resize(2);
  EXPECT_TRUE(merge_families(base, std::move(extra)).empty());
  ASSERT_EQ(base.size(), 1u);
  EXPECT_EQ(base[0].metric.size(), 3u);
}

}  // namespace
}  // namespace porthole::telemetry
