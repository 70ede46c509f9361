// One load run: worker threads (one io_context each, like wrk) own their connections,
// ConnectionLoops and RunStats; at the end the stats are merged. The target rate against what
// was achieved — the rate of sends that started inside the measurement window and the rate of
// successful responses that arrived inside it (throughput) — warm-up, stop by duration or
// request count, per-request timeout, interruption.
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
  bool traceparent = true;        // HTTP: a W3C traceparent per request (RequestStamper)
  std::size_t dump_limit = 0;     // > 0: keep up to this many per-request records (--dump-requests)
};

struct RunResult {
  double target_rate = 0;       // 0: closed loop
  double send_rate = 0;         // sends started inside the window / measured seconds
  double throughput = 0;        // successful responses inside the window / measured seconds
  double measured_seconds = 0;  // --duration, or up to the last response (--requests), or the interruption
  bool interrupted = false;
  std::string started_at;       // RFC 3339 UTC
  std::uint64_t run_id = 0;     // the first 16 hex digits of every request's trace-id
  std::int64_t run_start_monotonic_ns = 0;  // t=0 on CLOCK_MONOTONIC (times in the request dump are since then)
  RunStats stats;
};

// Runs the load; `stop` (set from a signal handler) ends it early. Throws std::invalid_argument
// for an inconsistent config.
RunResult run_load(const RunConfig& config, LiveCounterSet* live, const std::atomic<bool>& stop);

// The first timeline interval for a run of this expected length (at most ~600 points), or for a
// run of unknown length (closed loop stopped by a request count): the interval doubles when a
// run outgrows RunStats::kMaxTimelinePoints.
std::chrono::nanoseconds timeline_interval_for(std::optional<std::chrono::nanoseconds> expected);

}  // namespace porthole::loadtest
