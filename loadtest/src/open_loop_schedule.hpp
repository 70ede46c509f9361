// When each request of one connection is meant to be sent. An open-loop load generator decides
// send times in advance (target rate, optional jitter) instead of waiting for responses; the
// latency of a request is measured from its intended time, so a stalled server is charged for
// every request that should have gone out during the stall (no coordinated omission).
//
// The global rate R over N connections: connection c sends at R/N, shifted by c/R so the
// connections together send evenly every 1/R. Pure arithmetic on durations since the run start:
// unit tests drive it without clocks.
#pragma once

#include <chrono>
#include <cstdint>

namespace porthole::loadtest {

class OpenLoopSchedule {
 public:
  // rate: requests per second over all connections (> 0); jitter: 0..1, each send time moves
  // uniformly by up to +-jitter/2 of the connection's interval (deterministic per seed/index).
  OpenLoopSchedule(double rate, unsigned connections, unsigned connection, double jitter = 0, std::uint64_t seed = 1);

  // Intended send time of this connection's request `index` (0-based), since the run start.
  std::chrono::nanoseconds intended(std::uint64_t index) const;
  // How many of this connection's requests are intended strictly before `t` (since the start).
  std::uint64_t due_before(std::chrono::nanoseconds t) const;
  std::chrono::nanoseconds interval() const { return std::chrono::nanoseconds(static_cast<std::int64_t>(interval_ns_)); }

 private:
  double interval_ns_;  // between this connection's requests
  double offset_ns_;    // of its first request
  double jitter_;
  std::uint64_t seed_;
};

// How many requests connection c of n sends when the run stops after `total` requests.
std::uint64_t share_of_total(std::uint64_t total, unsigned connections, unsigned connection);

}  // namespace porthole::loadtest
