// A log-linear (HDR-style) histogram of durations in nanoseconds with bounded memory: values
// below 2^bits are counted exactly; above, every power-of-two range is split into 2^(bits-1)
// equal buckets, so a bucket is never wider than 2^-(bits-1) of its lower bound. Reading a bucket
// back as its midpoint makes every reported value (percentiles, min, max) within
// relative_precision() = 2^-bits of a value that was recorded. One histogram per worker thread
// (not thread-safe); merge() them at the end.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace porthole::loadtest {

class LatencyHistogram {
 public:
  // bits in [4, 16]; values above max_ns are clamped to max_ns and counted in clamped().
  explicit LatencyHistogram(unsigned bits = 10, std::uint64_t max_ns = kDefaultMaxNs);

  static constexpr std::uint64_t kDefaultMaxNs = 3600ull * 1000 * 1000 * 1000;  // one hour

  void record(std::uint64_t ns, std::uint64_t times = 1);
  // Adds `other`, which must have the same bits and max_ns (throws std::invalid_argument).
  void merge(const LatencyHistogram& other);
  void reset();

  std::uint64_t count() const { return count_; }
  std::uint64_t clamped() const { return clamped_; }
  std::uint64_t min() const;  // 0 when empty; exact
  std::uint64_t max() const { return max_; }  // exact
  double mean() const;        // exact (from the running sum of recorded values)
  double stddev() const;      // from bucket midpoints
  std::uint64_t sum() const { return sum_; }  // of recorded (clamped) values, ns
  // The value at percentile p (0..100): the smallest recorded value (bucket midpoint) with at
  // least ceil(p/100 * count) values at or below it (nearest rank). 0 when empty.
  std::uint64_t percentile(double p) const;

  unsigned bits() const { return bits_; }
  std::uint64_t max_ns() const { return max_ns_; }
  double relative_precision() const { return 1.0 / static_cast<double>(1ull << bits_); }
  std::size_t bucket_count() const { return counts_.size(); }

  // Bucket layout, public for the JSON codec and tests.
  std::size_t index_of(std::uint64_t ns) const;
  std::uint64_t lowest_of(std::size_t index) const;
  std::uint64_t highest_of(std::size_t index) const;  // inclusive
  std::uint64_t midpoint_of(std::size_t index) const;

  // Non-empty buckets as (index, count), in index order: the lossless serialised form.
  std::vector<std::pair<std::size_t, std::uint64_t>> nonzero_buckets() const;
  // Rebuilds from the serialised form; throws std::invalid_argument on a bad index.
  void restore(const std::vector<std::pair<std::size_t, std::uint64_t>>& buckets, std::uint64_t min,
               std::uint64_t max, std::uint64_t sum, std::uint64_t clamped);

 private:
  unsigned bits_;
  std::uint64_t max_ns_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t clamped_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  std::uint64_t sum_ = 0;
};

}  // namespace porthole::loadtest
