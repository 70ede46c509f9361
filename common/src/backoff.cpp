#include "porthole/common/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace porthole {

Backoff::Backoff(BackoffPolicy policy, std::function<double()> uniform01)
    : policy_(policy), uniform01_(std::move(uniform01)) {}

Duration Backoff::ceiling() const {
  const double initial = static_cast<double>(policy_.initial.count());
  const double max = static_cast<double>(policy_.max.count());
  // Cap the exponent so pow() can't overflow after a very long outage.
  const double exponent = std::min<double>(attempt_, 64.0);
  const double d = std::min(max, initial * std::pow(policy_.multiplier, exponent));
  return Duration(static_cast<Duration::rep>(d));
}

Duration Backoff::next() {
  const auto d = ceiling();
  if (attempt_ < UINT32_MAX) ++attempt_;
  const double u = std::clamp(uniform01_(), 0.0, 1.0);
  const auto half = d / 2;
  return half + Duration(static_cast<Duration::rep>(static_cast<double>((d - half).count()) * u));
}

std::function<double()> make_random_uniform01() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

}  // namespace porthole
