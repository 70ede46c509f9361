#include "porthole/common/backoff.hpp"

#include <gtest/gtest.h>

namespace porthole {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Backoff, GrowsGeometricallyWithinEqualJitterBounds) {
  double u = 0.0;
  Backoff b({milliseconds(100), seconds(30), 2.0}, [&] { return u; });
  // u = 0 gives the lower bound d/2, u -> 1 the upper bound d.
  EXPECT_EQ(b.next(), milliseconds(50));
  EXPECT_EQ(b.next(), milliseconds(100));
  u = 0.999999;
  EXPECT_NEAR(std::chrono::duration<double>(b.next()).count(), 0.4, 1e-5);
  EXPECT_EQ(b.attempts(), 3u);
}

TEST(Backoff, IsCappedAtMaxAndNeverOverflows) {
  Backoff b({milliseconds(100), seconds(30), 2.0}, [] { return 0.999999; });
  Duration last{};
  for (int i = 0; i < 10'000; ++i) last = b.next();
  EXPECT_LE(last, seconds(30));
  EXPECT_GE(last, seconds(29));
  EXPECT_EQ(b.ceiling(), seconds(30));
}

TEST(Backoff, IsNeverZeroSoAReconnectLoopCannotSpin) {
  Backoff b({milliseconds(1), milliseconds(1), 1.0}, [] { return 0.0; });
  for (int i = 0; i < 100; ++i) EXPECT_GT(b.next(), Duration::zero());
}

TEST(Backoff, ResetStartsOver) {
  Backoff b({milliseconds(100), seconds(30), 2.0}, [] { return 0.0; });
  for (int i = 0; i < 5; ++i) b.next();
  b.reset();
  EXPECT_EQ(b.attempts(), 0u);
  EXPECT_EQ(b.next(), milliseconds(50));
}

TEST(Backoff, ClampsABadRandomSource) {
  Backoff b({milliseconds(100), seconds(30), 2.0}, [] { return 7.0; });
  EXPECT_EQ(b.next(), milliseconds(100));
}

TEST(Backoff, ProductionRandomSourceStaysInRange) {
  auto u = make_random_uniform01();
  for (int i = 0; i < 1000; ++i) {
    const double v = u();
    ASSERT_GE(v, 0.0);
    ASSERT_LT(v, 1.0);
  }
}

}  // namespace
}  // namespace porthole
