#include "porthole/common/allocator.hpp"

#include <gtest/gtest.h>

#include "porthole/common/manual_time.hpp"

namespace porthole {
namespace {

// The trimmer keeps its timer armed for as long as it lives, and not a moment longer.
TEST(AllocatorTrimmer, TrimsEveryIntervalUntilDestroyed) {
  ManualTimeSource time;
  AllocatorSettings settings;
  settings.trim_interval = std::chrono::seconds(10);
  tune_allocator(settings);
  {
    AllocatorTrimmer trimmer(time, settings);
    EXPECT_EQ(time.pending_timers(), 1u);
    time.advance(std::chrono::seconds(35));  // three trims
    EXPECT_EQ(time.pending_timers(), 1u);
  }
  EXPECT_EQ(time.pending_timers(), 0u);
}

}  // namespace
}  // namespace porthole
