#include "compare.hpp"

#include <cmath>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

// Every request of the report takes `latency_ms`; `errors` of 1000 failed; everything was sent.
Report known(double throughput, std::uint64_t latency_ms, std::uint64_t errors) {
  Report r;
  r.result.target_rate = 1000;
  r.result.send_rate = 1000;
  r.result.throughput = throughput;
  for (int i = 0; i < 1000; ++i) {
    r.result.stats.latency.record(latency_ms * 1000000);
    r.result.stats.service.record(latency_ms * 500000);
  }
  r.result.stats.completed = 1000;
  r.result.stats.errors = errors;
  return r;
}

const ComparisonRow& find(const std::vector<ComparisonRow>& rows, const std::string& metric) {
  for (const auto& r : rows) {
    if (r.metric == metric) return r;
  }
  throw std::runtime_error("no row " + metric);
}

TEST(Compare, KnownInputsGiveKnownRows) {
  const auto rows = compare_reports(known(1000, 10, 0), known(800, 20, 10));
  EXPECT_EQ(find(rows, "send rate").verdict, "same");
  const auto& rate = find(rows, "throughput");
  EXPECT_DOUBLE_EQ(rate.a, 1000);
  EXPECT_DOUBLE_EQ(rate.b, 800);
  EXPECT_DOUBLE_EQ(rate.change, -0.2);
  EXPECT_EQ(rate.verdict, "worse");
  const auto& p99 = find(rows, "latency p99");
  EXPECT_NEAR(p99.a, 0.010, 0.010 * 0.001);
  EXPECT_NEAR(p99.b, 0.020, 0.020 * 0.001);
  EXPECT_NEAR(p99.change, 1.0, 0.002);
  EXPECT_EQ(p99.verdict, "worse");
  const auto& errors = find(rows, "error rate");
  EXPECT_DOUBLE_EQ(errors.a, 0);
  EXPECT_DOUBLE_EQ(errors.b, 0.01);
  EXPECT_TRUE(std::isinf(errors.change));
  EXPECT_EQ(errors.verdict, "worse");
  EXPECT_EQ(find(rows, "target rate").verdict, "same");
  EXPECT_EQ(find(rows, "service p50").verdict, "worse");
}

TEST(Compare, ImprovementsAreBetterAndTinyChangesTheSame) {
  const auto rows = compare_reports(known(800, 20, 10), known(1000, 10, 0));
  EXPECT_EQ(find(rows, "throughput").verdict, "better");
  EXPECT_EQ(find(rows, "latency p50").verdict, "better");
  EXPECT_EQ(find(rows, "error rate").verdict, "better");
  EXPECT_DOUBLE_EQ(find(rows, "error rate").change, -1.0);
  const auto same = compare_reports(known(1000, 10, 0), known(1005, 10, 0));
  EXPECT_EQ(find(same, "throughput").verdict, "same");
}

TEST(Compare, TextAndJsonOutput) {
  const auto rows = compare_reports(known(1000, 10, 0), known(800, 20, 10));
  const auto text = format_comparison("a.json", "b.json", rows);
  EXPECT_NE(text.find("throughput"), std::string::npos);
  EXPECT_NE(text.find("-20.0%"), std::string::npos) << text;
  EXPECT_NE(text.find("1000.0/s"), std::string::npos);
  EXPECT_NE(text.find("new"), std::string::npos);
  const auto j = comparison_to_json("a.json", "b.json", rows);
  const auto parsed = boost::json::parse(boost::json::serialize(j));
  EXPECT_EQ(parsed.at("rows").as_array().size(), rows.size());
  EXPECT_TRUE(parsed.at("rows").as_array()[4].at("change").is_null());  // error rate: from 0
  EXPECT_EQ(parsed.at("rows").as_array()[4].at("metric").as_string(), "error rate");
}

}  // namespace
}  // namespace porthole::loadtest
