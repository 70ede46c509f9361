// One load run: worker threads (one io_context each, like wrk) own their connections,
// ConnectionLoops and RunStats; at the end the stats are merged. Target vs achieved rate,
// warm-up, stop by duration or request count, per-request timeout, interruption.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "exchange.hpp"
#include "run_stats.hpp"
#include "scenario.hpp"
#include "socket_exchange.hpp"

namespace porthole::loadtest {

struct RunConfig {
  std::string url;                 // as given, for the report
  ExchangeTarget target;           // resolved endpoints, TLS
  Scenario scenario;
  std::string host_header;
  double rate = 100;               // requests/s over all connections; 0 = closed loop (max)
  unsigned connections = 10;
  unsigned threads = 1;
  std::optional<std::chrono::nanoseconds> duration = std::chrono::seconds(10);
  std::optional<std::uint64_t> requests;  // stop after this many (warm-up included)
  std::chrono::nanoseconds warmup = std::chrono::seconds(1);
  double jitter = 0;
  std::chrono::nanoseconds timeout = std::chrono::seconds(10);
  std::chrono::nanoseconds late_threshold = std::chrono::milliseconds(1);
  std::uint64_t seed = 1;
};

struct RunResult {
  double target_rate = 0;     // 0: closed loop
  double achieved_rate = 0;   // measured requests completed / measured seconds
  double measured_seconds = 0;
  bool interrupted = false;
  std::string started_at;     // RFC 3339 UTC
  RunStats stats;
};

// Runs the load; `stop` (set from a signal handler) ends it early. Throws std::invalid_argument
// for an inconsistent config.
RunResult run_load(const RunConfig& config, LiveCounters* live, const std::atomic<bool>& stop);

// The timeline interval for a run of this expected length: at most ~600 points.
std::chrono::nanoseconds timeline_interval_for(std::chrono::nanoseconds expected);

}  // namespace porthole::loadtest
