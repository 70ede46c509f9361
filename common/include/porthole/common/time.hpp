// Time as an injected dependency. Every timer in Porthole (heartbeats, backoff, timeouts,
// batch delays) goes through a TimeSource so that tests advance time instead of sleeping.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace porthole {

using MonoClock = std::chrono::steady_clock;
using MonoTime = MonoClock::time_point;
using Duration = std::chrono::nanoseconds;

// A one-shot timer. Re-arming replaces the pending callback; cancel() and destruction
// guarantee the callback will not run afterwards.
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void arm(Duration after, std::function<void()> callback) = 0;
  virtual void cancel() = 0;
  virtual bool armed() const = 0;
};

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual MonoTime now() const = 0;
  virtual std::chrono::system_clock::time_point system_now() const = 0;
  virtual std::unique_ptr<Timer> make_timer() = 0;
};

}  // namespace porthole
