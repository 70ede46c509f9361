#include "latency_histogram.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace porthole::loadtest {
namespace {

std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, double p) {
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::max<std::uint64_t>(rank, 1);
  return sorted[rank - 1];
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h(10);
  for (std::uint64_t v = 0; v < 1024; ++v) {
    EXPECT_EQ(h.lowest_of(h.index_of(v)), v);
    EXPECT_EQ(h.highest_of(h.index_of(v)), v);
  }
}

TEST(LatencyHistogram, BucketsCoverEveryValueWithinStatedWidth) {
  for (unsigned bits : {5u, 8u, 10u, 12u}) {
    LatencyHistogram h(bits);
    std::mt19937_64 rng(bits);
    for (int i = 0; i < 200000; ++i) {
      const std::uint64_t v = rng() % LatencyHistogram::kDefaultMaxNs;
      const auto idx = h.index_of(v);
      ASSERT_LE(h.lowest_of(idx), v);
      ASSERT_GE(h.highest_of(idx), v);
      const double width = static_cast<double>(h.highest_of(idx) - h.lowest_of(idx));
      ASSERT_LE(width / 2, static_cast<double>(v) * h.relative_precision() + 0.5) << v;
      ASSERT_LT(idx, h.bucket_count());
    }
    // Buckets are contiguous and ordered.
    for (std::size_t i = 1; i < h.bucket_count(); ++i) ASSERT_EQ(h.highest_of(i - 1) + 1, h.lowest_of(i));
  }
}

TEST(LatencyHistogram, MemoryIsBounded) {
  LatencyHistogram h(10);
  // An hour at 0.1 %: about 17k counters, whatever is recorded.
  EXPECT_LT(h.bucket_count(), 20000u);
  for (int i = 0; i < 100000; ++i) h.record(static_cast<std::uint64_t>(i) * 1000003);
  EXPECT_LT(h.bucket_count(), 20000u);
}

TEST(LatencyHistogram, PercentilesWithinStatedPrecisionOfExact) {
  for (unsigned bits : {7u, 10u}) {
    LatencyHistogram h(bits);
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> dist(std::log(2e6), 1.2);  // around 2 ms, long tail
    std::vector<std::uint64_t> values;
    for (int i = 0; i < 200000; ++i) {
      const auto v = static_cast<std::uint64_t>(dist(rng));
      values.push_back(v);
      h.record(v);
    }
    std::sort(values.begin(), values.end());
    for (double p : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 99.999, 100.0}) {
      const auto exact = exact_percentile(values, p == 0 ? 1e-9 : p);
      const auto got = h.percentile(p);
      EXPECT_LE(std::fabs(static_cast<double>(got) - static_cast<double>(exact)),
                static_cast<double>(exact) * h.relative_precision() + 1)
          << "bits " << bits << " p" << p << " exact " << exact << " got " << got;
    }
    EXPECT_EQ(h.min(), values.front());
    EXPECT_EQ(h.max(), values.back());
    long double sum = 0;
    for (auto v : values) sum += v;
    EXPECT_NEAR(h.mean(), static_cast<double>(sum / values.size()), 1e-6 * h.mean());
  }
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a(10), b(10), all(10);
  for (std::uint64_t i = 1; i < 50000; i += 7) {
    (i % 2 ? a : b).record(i * 991);
    all.record(i * 991);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.nonzero_buckets(), all.nonzero_buckets());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.sum(), all.sum());
  EXPECT_THROW(a.merge(LatencyHistogram(9)), std::invalid_argument);
}

TEST(LatencyHistogram, ClampsAboveTheTrackableMaximum) {
  LatencyHistogram h(10, 1000000);
  h.record(5000000);
  h.record(10);
  EXPECT_EQ(h.clamped(), 1u);
  EXPECT_EQ(h.max(), 1000000u);
  EXPECT_EQ(h.count(), 2u);
}

TEST(LatencyHistogram, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile(99), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(LatencyHistogram, RestoreRejectsOutOfRangeBuckets) {
  LatencyHistogram h(10);
  EXPECT_THROW(h.restore({{h.bucket_count(), 1}}, 0, 0, 0, 0), std::invalid_argument);
  EXPECT_THROW(LatencyHistogram(3), std::invalid_argument);
}

}  // namespace
}  // namespace porthole::loadtest
