// How both binaries use glibc's malloc. They allocate in bursts (an OTLP request of a few hundred
// KiB, its decoded spans, a batch frame), free it all, and do it again. With glibc's defaults the
// heap top is trimmed back to the kernel whenever more than 128 KiB is free, so every burst
// faults in and zeroes the same pages again: in bench/telemetry that was a third of the agent's
// CPU (page faults, clear_page) before this tuning. We keep up to `trim_threshold` of free heap
// between bursts instead, and give idle memory back on a timer, so the resident size after a
// burst still falls back (the enclave's memory is carved out of the parent's).
#pragma once

#include <cstddef>
#include <memory>

#include "porthole/common/time.hpp"

namespace porthole {

struct AllocatorSettings {
  // Free memory at the heap top kept for the next burst instead of being returned at once.
  std::size_t trim_threshold = 8u << 20;
  // Allocations at least this large get their own mapping (returned to the kernel on free).
  // Fixed, so that glibc does not raise it behind our back after the first large free.
  std::size_t mmap_threshold = 1u << 20;
  // How often free heap memory is returned to the kernel (malloc_trim) regardless of the above.
  Duration trim_interval = std::chrono::seconds(10);
};

// Applies `settings` to this process's allocator (mallopt). Call once, early in main().
void tune_allocator(const AllocatorSettings& settings = {});

// Returns free heap memory to the kernel every `settings.trim_interval` (malloc_trim), so that a
// burst's pages do not stay resident for the life of the process. Stops on destruction.
class AllocatorTrimmer {
 public:
  AllocatorTrimmer(TimeSource& time, const AllocatorSettings& settings = {});
  ~AllocatorTrimmer();
  AllocatorTrimmer(const AllocatorTrimmer&) = delete;
  AllocatorTrimmer& operator=(const AllocatorTrimmer&) = delete;

 private:
  void arm();
  std::unique_ptr<Timer> timer_;
  Duration interval_;
};

}  // namespace porthole
