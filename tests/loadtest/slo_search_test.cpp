#include "slo_search.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

// A server whose p99 grows with the rate: 1 ms per 100 req/s; errors start above 900 req/s.
RunResult fake_run(double rate) {
  RunResult r;
  r.target_rate = rate;
  r.achieved_rate = rate;
  for (int i = 0; i < 1000; ++i) r.stats.latency.record(static_cast<std::uint64_t>(rate / 100 * 1e6));
  r.stats.completed = 1000;
  r.stats.errors = rate > 900 ? 50 : 0;
  return r;
}

TEST(SloSearch, FindsTheLastRateWithinTheSlo) {
  SloSpec spec;
  spec.percentile = 99;
  spec.threshold = std::chrono::microseconds(5500);
  spec.start_rate = 100;
  spec.step_rate = 100;
  std::atomic<bool> stop{false};
  const auto r = search_slo(spec, fake_run, stop);
  EXPECT_DOUBLE_EQ(r.max_sustainable_rate, 500);
  ASSERT_EQ(r.steps.size(), 6u);
  EXPECT_FALSE(r.steps.back().passed);
  EXPECT_NE(r.steps.back().reason.find("p99"), std::string::npos);
  const auto j = boost::json::parse(boost::json::serialize(slo_to_json(r, "http://x", "get")));
  EXPECT_EQ(j.at("steps").as_array().size(), 6u);
  EXPECT_NE(format_slo(r).find("maximum sustainable rate: 500.0/s"), std::string::npos);
  EXPECT_NE(slo_to_html(r, "http://x").find("<svg"), std::string::npos);
}

TEST(SloSearch, StopsOnTheErrorBudgetAndOnAShortfall) {
  SloSpec spec;
  spec.threshold = std::chrono::seconds(1);
  spec.start_rate = 800;
  spec.step_rate = 100;
  std::atomic<bool> stop{false};
  const auto r = search_slo(spec, fake_run, stop);
  EXPECT_DOUBLE_EQ(r.max_sustainable_rate, 900);
  EXPECT_NE(r.steps.back().reason.find("error rate"), std::string::npos);

  auto slow = fake_run(100);
  slow.achieved_rate = 90;
  const auto step = evaluate_step(slow, 100, spec);
  EXPECT_FALSE(step.passed);
  EXPECT_NE(step.reason.find("achieved"), std::string::npos);
}

TEST(SloSearch, EndsAtTheMaximumRate) {
  SloSpec spec;
  spec.threshold = std::chrono::seconds(1);
  spec.start_rate = 100;
  spec.step_rate = 100;
  spec.max_rate = 300;
  std::atomic<bool> stop{false};
  const auto r = search_slo(spec, fake_run, stop);
  EXPECT_EQ(r.steps.size(), 3u);
  EXPECT_DOUBLE_EQ(r.max_sustainable_rate, 300);
}

}  // namespace
}  // namespace porthole::loadtest
