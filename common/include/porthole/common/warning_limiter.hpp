// At most one warning line per interval for a degraded mode that can repeat thousands of times a
// second (a full queue, a blocked output): every occurrence is counted, and a line may be
// written only once the interval since the previous line has passed, carrying the count since.
// Time comes from the caller (an injected TimeSource), so tests need no sleeps.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>

#include "porthole/common/time.hpp"

namespace porthole {

class WarningLimiter {
 public:
  explicit WarningLimiter(Duration interval = std::chrono::seconds(10)) : interval_(interval) {}

  // Counts `n` more occurrences; returns how many a line written now should report, or 0 when
  // no line is due (nothing new, or the last line was less than an interval ago).
  std::uint64_t add(std::uint64_t n, MonoTime now) {
    unreported_ += n;
    if (unreported_ == 0 || (last_line_ && now - *last_line_ < interval_)) return 0;
    last_line_ = now;
    return std::exchange(unreported_, 0);
  }
  // What no line has reported yet, for a last line when nothing will come later (shutdown).
  std::uint64_t take_unreported() { return std::exchange(unreported_, 0); }

 private:
  Duration interval_;
  std::optional<MonoTime> last_line_;
  std::uint64_t unreported_ = 0;
};

}  // namespace porthole
