// A token bucket on injected time: `rate` tokens per second, holding at most `burst`.
// Rate limits that can be tested without sleeping.
#pragma once

#include <algorithm>

#include "porthole/common/time.hpp"

namespace porthole {

class TokenBucket {
 public:
  TokenBucket(double rate_per_second, double burst, MonoTime now)
      : rate_(rate_per_second), burst_(burst), tokens_(burst), last_(now) {}

  // Takes one token if there is one.
  bool try_take(MonoTime now) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) {
      tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
      last_ = now;
    }
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  MonoTime last_;
};

}  // namespace porthole
