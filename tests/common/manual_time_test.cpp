#include "porthole/common/manual_time.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace porthole {
namespace {

using std::chrono::milliseconds;

TEST(ManualTimeSource, FiresDueTimersInDeadlineOrder) {
  ManualTimeSource time;
  std::vector<int> fired;
  auto a = time.make_timer();
  auto b = time.make_timer();
  auto c = time.make_timer();
  a->arm(milliseconds(30), [&] { fired.push_back(30); });
  b->arm(milliseconds(10), [&] { fired.push_back(10); });
  c->arm(milliseconds(20), [&] { fired.push_back(20); });
  time.advance(milliseconds(25));
  EXPECT_EQ(fired, (std::vector<int>{10, 20}));
  EXPECT_TRUE(a->armed());
  EXPECT_FALSE(b->armed());
  time.advance(milliseconds(5));
  EXPECT_EQ(fired, (std::vector<int>{10, 20, 30}));
}

TEST(ManualTimeSource, CancelAndDestructionPreventCallbacks) {
  ManualTimeSource time;
  int fired = 0;
  auto a = time.make_timer();
  a->arm(milliseconds(10), [&] { ++fired; });
  a->cancel();
  {
    auto b = time.make_timer();
    b->arm(milliseconds(10), [&] { ++fired; });
  }
  time.advance(milliseconds(100));
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(time.pending_timers(), 0u);
}

TEST(ManualTimeSource, CallbackSeesItsDeadlineAndCanRearm) {
  ManualTimeSource time;
  const auto start = time.now();
  auto t = time.make_timer();
  std::vector<Duration> seen;
  std::function<void()> tick = [&] {
    seen.push_back(time.now() - start);
    if (seen.size() < 3) t->arm(milliseconds(10), tick);
  };
  t->arm(milliseconds(10), tick);
  time.advance(milliseconds(100));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2], milliseconds(30));
  EXPECT_EQ(time.now() - start, milliseconds(100));
}

TEST(ManualTimeSource, RearmingReplacesThePendingCallback) {
  ManualTimeSource time;
  int which = 0;
  auto t = time.make_timer();
  t->arm(milliseconds(10), [&] { which = 1; });
  t->arm(milliseconds(20), [&] { which = 2; });
  time.advance(milliseconds(15));
  EXPECT_EQ(which, 0);
  time.advance(milliseconds(5));
  EXPECT_EQ(which, 2);
}

}  // namespace
}  // namespace porthole
