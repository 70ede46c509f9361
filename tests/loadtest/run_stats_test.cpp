#include "run_stats.hpp"

#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

using namespace std::chrono_literals;

std::uint64_t total(const RunStats& s) {
  std::uint64_t n = 0;
  for (const auto& p : s.timeline) n += p.completed;
  return n;
}

TEST(RunStats, ALongRunDoublesTheTimelineIntervalInsteadOfPilingIntoTheLastSlot) {
  RunStats s;
  s.timeline_interval = 10ms;
  // One completion every 100 ms for two hours (far beyond 600 x 10 ms).
  for (int i = 0; i < 72000; ++i) s.add_to_timeline(std::chrono::milliseconds(100) * i, 1000, i % 10 == 0);
  EXPECT_LE(s.timeline.size(), RunStats::kMaxTimelinePoints);
  EXPECT_GT(s.timeline.size(), RunStats::kMaxTimelinePoints / 2);
  EXPECT_EQ(s.timeline_interval, 10ms * 2048);  // the first doubling that fits 7200 s in 600 points
  EXPECT_EQ(total(s), 72000u);
  // Still evenly spread: every full interval holds 204 or 205 of the completions (20.48 s / 100 ms).
  for (std::size_t i = 0; i + 1 < s.timeline.size(); ++i) {
    EXPECT_GE(s.timeline[i].completed, 204u) << i;
    EXPECT_LE(s.timeline[i].completed, 205u) << i;
    EXPECT_EQ(s.timeline[i].latency.count(), s.timeline[i].completed);
  }
}

TEST(RunStats, MergeBringsTimelinesToTheCoarserInterval) {
  RunStats fine, coarse;
  fine.timeline_interval = 1s;
  coarse.timeline_interval = 1s;
  for (int i = 0; i < 10; ++i) fine.add_to_timeline(std::chrono::seconds(i), 1000, false);  // 10 points
  for (int i = 0; i < 1000; ++i) coarse.add_to_timeline(std::chrono::seconds(i), 1000, true);  // doubled to 2 s
  ASSERT_EQ(coarse.timeline_interval, 2s);
  RunStats merged;
  merged.timeline_interval = 1s;
  merged.merge(fine);
  merged.merge(coarse);
  EXPECT_EQ(merged.timeline_interval, 2s);
  EXPECT_EQ(total(merged), 1010u);
  EXPECT_EQ(merged.timeline[0].completed, 4u);  // 2 + 2
  EXPECT_EQ(merged.timeline[0].errors, 2u);
  EXPECT_EQ(merged.timeline[100].completed, 2u);
}

TEST(RunStats, LiveCountersAreSummedOverWorkers) {
  LiveCounterSet set(3);
  set.worker(0).completed += 2;
  set.worker(2).completed += 5;
  set.worker(1).latency.observe(300000);   // 0.3 ms: bucket 0.0005
  set.worker(2).latency.observe(20000000000ull);  // 20 s: +Inf
  EXPECT_EQ(set.sum(&LiveCounters::completed), 7u);
  const auto [cumulative, sum] = set.histogram(&LiveCounters::latency);
  ASSERT_EQ(cumulative.size(), LiveCounters::kBucketsSeconds.size() + 1);
  EXPECT_EQ(cumulative[1], 0u);  // <= 0.25 ms
  EXPECT_EQ(cumulative[2], 1u);  // <= 0.5 ms
  EXPECT_EQ(cumulative[cumulative.size() - 2], 1u);
  EXPECT_EQ(cumulative.back(), 2u);
  EXPECT_DOUBLE_EQ(sum, 20.0003);
}

}  // namespace
}  // namespace porthole::loadtest
