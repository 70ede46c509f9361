#include "open_loop_schedule.hpp"

#include <cmath>
#include <stdexcept>

#include "splitmix64.hpp"

namespace porthole::loadtest {

OpenLoopSchedule::OpenLoopSchedule(double rate, unsigned connections, unsigned connection, double jitter,
                                   std::uint64_t seed)
    : jitter_(jitter), seed_(splitmix64(seed) ^ splitmix64(connection + 0x1234567ull)) {
  if (!(rate > 0) || connections == 0 || connection >= connections || jitter < 0 || jitter > 1) {
    throw std::invalid_argument("schedule: rate must be > 0, connection < connections, jitter in 0..1");
  }
  interval_ns_ = 1e9 * connections / rate;
  offset_ns_ = 1e9 * connection / rate;
}

std::chrono::nanoseconds OpenLoopSchedule::intended(std::uint64_t index) const {
  double t = offset_ns_ + interval_ns_ * static_cast<double>(index);
  if (jitter_ > 0) {
    const double u = static_cast<double>(splitmix64(seed_ + index) >> 11) / 9007199254740992.0;  // [0, 1)
    t += (u - 0.5) * jitter_ * interval_ns_;
    if (t < 0) t = 0;
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(t)));
}

std::uint64_t OpenLoopSchedule::due_before(std::chrono::nanoseconds t) const {
  const double x = static_cast<double>(t.count());
  if (x <= offset_ns_) return 0;
  // Count of i with offset + i*interval < x (ignoring jitter, which never reorders requests
  // across more than one interval).
  const double n = std::ceil((x - offset_ns_) / interval_ns_);
  return static_cast<std::uint64_t>(n);
}

std::uint64_t share_of_total(std::uint64_t total, unsigned connections, unsigned connection) {
  return total / connections + (connection < total % connections ? 1 : 0);
}

}  // namespace porthole::loadtest
