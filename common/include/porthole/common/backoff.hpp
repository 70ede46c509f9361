// Exponential backoff with "equal jitter": the n-th delay is drawn uniformly from
// [d/2, d] where d = min(max, initial * multiplier^n). Never zero, so a dead peer can never
// turn a reconnect loop into a busy loop; randomised, so many agents don't reconnect in step.
#pragma once

#include <cstdint>
#include <functional>

#include "porthole/common/time.hpp"

namespace porthole {

struct BackoffPolicy {
  Duration initial = std::chrono::milliseconds(100);
  Duration max = std::chrono::seconds(30);
  double multiplier = 2.0;
};

class Backoff {
 public:
  // `uniform01` returns a number in [0, 1); injected so tests are deterministic.
  Backoff(BackoffPolicy policy, std::function<double()> uniform01);

  Duration next();  // the delay before the next attempt
  void reset() { attempt_ = 0; }
  std::uint32_t attempts() const { return attempt_; }
  // The upper bound of the delay the next call to next() can return.
  Duration ceiling() const;

 private:
  BackoffPolicy policy_;
  std::function<double()> uniform01_;
  std::uint32_t attempt_ = 0;
};

// A uniform01 source for production (seeded from std::random_device).
std::function<double()> make_random_uniform01();

}  // namespace porthole
