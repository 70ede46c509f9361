#include "latency_histogram.hpp"

#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

namespace porthole::loadtest {

LatencyHistogram::LatencyHistogram(unsigned bits, std::uint64_t max_ns) : bits_(bits), max_ns_(max_ns) {
  if (bits < 4 || bits > 16) throw std::invalid_argument("histogram bits must be 4..16, got " + std::to_string(bits));
  if (max_ns < 1) throw std::invalid_argument("histogram max must be at least 1 ns");
  counts_.assign(index_of(max_ns) + 1, 0);
}

std::size_t LatencyHistogram::index_of(std::uint64_t ns) const {
  const std::uint64_t exact = 1ull << bits_;
  if (ns < exact) return static_cast<std::size_t>(ns);
  const unsigned shift = static_cast<unsigned>(std::bit_width(ns)) - bits_;  // >= 1
  const std::uint64_t half = exact >> 1;
  return static_cast<std::size_t>(exact + (shift - 1) * half + ((ns >> shift) - half));
}

std::uint64_t LatencyHistogram::lowest_of(std::size_t index) const {
  const std::uint64_t exact = 1ull << bits_;
  if (index < exact) return index;
  const std::uint64_t half = exact >> 1;
  const std::uint64_t shift = (index - exact) / half + 1;
  const std::uint64_t mantissa = (index - exact) % half + half;
  return mantissa << shift;
}

std::uint64_t LatencyHistogram::highest_of(std::size_t index) const {
  const std::uint64_t exact = 1ull << bits_;
  if (index < exact) return index;
  const std::uint64_t shift = (index - exact) / (exact >> 1) + 1;
  return lowest_of(index) + (1ull << shift) - 1;
}

std::uint64_t LatencyHistogram::midpoint_of(std::size_t index) const {
  const auto lo = lowest_of(index);
  return lo + (highest_of(index) - lo) / 2;
}

void LatencyHistogram::record(std::uint64_t ns, std::uint64_t times) {
  if (times == 0) return;
  if (ns > max_ns_) {
    ns = max_ns_;
    clamped_ += times;
  }
  counts_[index_of(ns)] += times;
  count_ += times;
  if (ns < min_) min_ = ns;
  if (ns > max_) max_ = ns;
  sum_ += ns * times;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.bits_ != bits_ || other.max_ns_ != max_ns_) {
    throw std::invalid_argument("cannot merge histograms of different precision or range");
  }
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  clamped_ += other.clamped_;
  if (other.count_ != 0) {
    if (other.min_ < min_) min_ = other.min_;
    if (other.max_ > max_) max_ = other.max_;
  }
  sum_ += other.sum_;
}

void LatencyHistogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = clamped_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

std::uint64_t LatencyHistogram::min() const { return count_ == 0 ? 0 : min_; }

double LatencyHistogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

double LatencyHistogram::stddev() const {
  if (count_ == 0) return 0.0;
  const double m = mean();
  long double acc = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    const double d = static_cast<double>(midpoint_of(i)) - m;
    acc += static_cast<long double>(d) * d * counts_[i];
  }
  return std::sqrt(static_cast<double>(acc / count_));
}

std::uint64_t LatencyHistogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (p <= 0) return min();
  if (p >= 100) return max_;
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  if (rank < 1) rank = 1;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // The exact extremes are known: never report beyond them.
      const auto v = midpoint_of(i);
      return v < min_ ? min_ : (v > max_ ? max_ : v);
    }
  }
  return max_;
}

std::vector<std::pair<std::size_t, std::uint64_t>> LatencyHistogram::nonzero_buckets() const {
  std::vector<std::pair<std::size_t, std::uint64_t>> out;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) out.emplace_back(i, counts_[i]);
  }
  return out;
}

void LatencyHistogram::restore(const std::vector<std::pair<std::size_t, std::uint64_t>>& buckets, std::uint64_t min,
                               std::uint64_t max, std::uint64_t sum, std::uint64_t clamped) {
  reset();
  for (const auto& [index, n] : buckets) {
    if (index >= counts_.size()) {
      throw std::invalid_argument("histogram bucket index " + std::to_string(index) + " out of range (" +
                                  std::to_string(counts_.size()) + " buckets)");
    }
    counts_[index] += n;
    count_ += n;
  }
  if (count_ != 0) {
    min_ = min;
    max_ = max;
  }
  sum_ = sum;
  clamped_ = clamped;
}

}  // namespace porthole::loadtest
