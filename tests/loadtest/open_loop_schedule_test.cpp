#include "open_loop_schedule.hpp"

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

using std::chrono::nanoseconds;

TEST(OpenLoopSchedule, OneConnectionSendsEveryInterval) {
  OpenLoopSchedule s(1000, 1, 0);
  for (std::uint64_t i = 0; i < 10000; ++i) EXPECT_EQ(s.intended(i), nanoseconds(1000000 * i));
  EXPECT_EQ(s.interval(), nanoseconds(1000000));
}

TEST(OpenLoopSchedule, ConnectionsTogetherSendEvenlyAtTheTargetRate) {
  const unsigned n = 7;
  const double rate = 3000;
  std::vector<std::int64_t> all;
  for (unsigned c = 0; c < n; ++c) {
    OpenLoopSchedule s(rate, n, c);
    for (std::uint64_t i = 0; i < 1000; ++i) all.push_back(s.intended(i).count());
  }
  std::sort(all.begin(), all.end());
  const double gap = 1e9 / rate;
  for (std::size_t k = 0; k < all.size(); ++k) EXPECT_NEAR(static_cast<double>(all[k]), gap * k, 1.0) << k;
}

TEST(OpenLoopSchedule, DueBeforeCountsIntendedTimesStrictlyEarlier) {
  OpenLoopSchedule s(100, 4, 2);  // every 40 ms, from 20 ms
  EXPECT_EQ(s.due_before(nanoseconds(0)), 0u);
  EXPECT_EQ(s.due_before(std::chrono::milliseconds(20)), 0u);
  EXPECT_EQ(s.due_before(std::chrono::milliseconds(21)), 1u);
  EXPECT_EQ(s.due_before(std::chrono::milliseconds(60)), 1u);
  EXPECT_EQ(s.due_before(std::chrono::milliseconds(61)), 2u);
  EXPECT_EQ(s.due_before(std::chrono::seconds(10)), 250u);
}

TEST(OpenLoopSchedule, JitterIsBoundedDeterministicAndKeepsTheMeanRate) {
  OpenLoopSchedule plain(1000, 1, 0);
  OpenLoopSchedule a(1000, 1, 0, 0.5, 7), b(1000, 1, 0, 0.5, 7), c(1000, 1, 0, 0.5, 8);
  bool differs = false;
  double total_shift = 0;
  for (std::uint64_t i = 1; i < 20000; ++i) {
    const auto shift = (a.intended(i) - plain.intended(i)).count();
    EXPECT_LE(std::abs(shift), 250000) << i;  // +-jitter/2 of 1 ms
    EXPECT_EQ(a.intended(i), b.intended(i));
    differs = differs || a.intended(i) != c.intended(i);
    total_shift += static_cast<double>(shift);
  }
  EXPECT_TRUE(differs);
  EXPECT_LT(std::abs(total_shift / 20000), 5000);  // mean shift ~0: rate unchanged
}

TEST(OpenLoopSchedule, RejectsBadArguments) {
  EXPECT_THROW(OpenLoopSchedule(0, 1, 0), std::invalid_argument);
  EXPECT_THROW(OpenLoopSchedule(10, 2, 2), std::invalid_argument);
  EXPECT_THROW(OpenLoopSchedule(10, 1, 0, 1.5), std::invalid_argument);
}

TEST(ShareOfTotal, SplitsExactly) {
  std::uint64_t sum = 0;
  for (unsigned c = 0; c < 7; ++c) sum += share_of_total(1000, 7, c);
  EXPECT_EQ(sum, 1000u);
  EXPECT_EQ(share_of_total(1000, 7, 0), 143u);
  EXPECT_EQ(share_of_total(1000, 7, 6), 142u);
}

}  // namespace
}  // namespace porthole::loadtest
