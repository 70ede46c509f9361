#include "slo_search.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

// A server whose p99 grows with the rate: 1 ms per 100 req/s; errors start above 900 req/s.
RunResult fake_run(double rate) {
  RunResult r;
  r.target_rate = rate;
  r.send_rate = rate;
  r.throughput = rate > 900 ? rate * 0.95 : rate;
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
  const auto r = search_slo(spec, [](double rate, Breakdown&) { return fake_run(rate); }, stop);
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
  const auto r = search_slo(spec, [](double rate, Breakdown&) { return fake_run(rate); }, stop);
  EXPECT_DOUBLE_EQ(r.max_sustainable_rate, 900);
  EXPECT_NE(r.steps.back().reason.find("error rate"), std::string::npos);

  // Everything sent on time, but fewer successful responses than the target: the server fell
  // behind (the old "completed / window" counted those as achieved).
  auto behind = fake_run(100);
  behind.throughput = 98.5;
  const auto step = evaluate_step(behind, 100, spec);
  EXPECT_FALSE(step.passed);
  EXPECT_NE(step.reason.find("successful 98.5/s"), std::string::npos) << step.reason;
  // Within the tolerance it passes.
  behind.throughput = 99.5;
  EXPECT_TRUE(evaluate_step(behind, 100, spec).passed);
}

TEST(SloSearch, EveryStepCarriesItsBreakdown) {
  SloSpec spec;
  spec.threshold = std::chrono::seconds(1);
  spec.max_rate = 200;
  std::atomic<bool> stop{false};
  const auto r = search_slo(spec, [](double rate, Breakdown& b) {
    b.notes.push_back("step " + std::to_string(static_cast<int>(rate)));
    TimeSplit t;
    t.client_seconds = 0.002;
    t.outside_seconds = 0.001;
    t.workload_seconds = 0.001;
    t.has_workload = true;
    b.split = t;
    return fake_run(rate);
  }, stop);
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[1].breakdown.notes, std::vector<std::string>{"step 200"});
  const auto j = boost::json::parse(boost::json::serialize(slo_to_json(r, "http://x", "get")));
  EXPECT_EQ(j.at("steps").at(1).at("breakdown").at("notes").at(0).as_string(), "step 200");
  EXPECT_NE(format_slo(r).find("at 200.0/s: mean per request 2ms"), std::string::npos) << format_slo(r);
  EXPECT_NE(slo_to_html(r, "http://x").find("Where the time went"), std::string::npos);
}

TEST(SloSearch, AnInterruptedSearchSaysSo) {
  SloSpec spec;
  spec.threshold = std::chrono::seconds(1);
  std::atomic<bool> stop{false};
  const auto r = search_slo(spec, [&](double rate, Breakdown&) {
    if (rate >= 300) stop = true;
    return fake_run(rate);
  }, stop);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.steps.size(), 2u);
  EXPECT_NE(format_slo(r).find("(search interrupted)"), std::string::npos);
}

TEST(SloSearch, EndsAtTheMaximumRate) {
  SloSpec spec;
  spec.threshold = std::chrono::seconds(1);
  spec.start_rate = 100;
  spec.step_rate = 100;
  spec.max_rate = 300;
  std::atomic<bool> stop{false};
  const auto r = search_slo(spec, [](double rate, Breakdown&) { return fake_run(rate); }, stop);
  EXPECT_EQ(r.steps.size(), 3u);
  EXPECT_DOUBLE_EQ(r.max_sustainable_rate, 300);
}

}  // namespace
}  // namespace porthole::loadtest
