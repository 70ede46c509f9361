#include "porthole/common/allocator.hpp"

#include <malloc.h>

namespace porthole {

void tune_allocator(const AllocatorSettings& settings) {
  ::mallopt(M_TRIM_THRESHOLD, static_cast<int>(settings.trim_threshold));
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(settings.mmap_threshold));
}

AllocatorTrimmer::AllocatorTrimmer(TimeSource& time, const AllocatorSettings& settings)
    : timer_(time.make_timer()), interval_(settings.trim_interval) {
  arm();
}

AllocatorTrimmer::~AllocatorTrimmer() { timer_->cancel(); }

void AllocatorTrimmer::arm() {
  timer_->arm(interval_, [this] {
    ::malloc_trim(0);
    arm();
  });
}

}  // namespace porthole
