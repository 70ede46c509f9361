// What one worker thread records about its requests, and the merged result of a run. A request
// is measured from its intended send time (latency, coordinated-omission corrected) and from its
// actual send time (service time); one that goes out later than `late_threshold` after its
// intended time is counted as late. Requests intended before the end of warm-up only count in
// `warmup`. Memory is bounded: fixed-size histograms and at most kMaxTimelinePoints intervals.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "latency_histogram.hpp"
#include "porthole/common/time.hpp"

namespace porthole::loadtest {

enum class RequestError : std::uint8_t { None, Connect, Timeout, Reset, Io, Protocol, Tls, Closed };
constexpr std::size_t kRequestErrorKinds = 8;
const char* to_string(RequestError e);

struct RequestOutcome {
  RequestError error = RequestError::None;
  unsigned status = 0;  // HTTP status; 0 for raw TCP or when no response arrived
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
};

// Counts every recorded request as it happens, readable from other threads (live metrics).
struct LiveCounters {
  static constexpr std::array<double, 16> kBucketsSeconds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
  std::atomic<std::uint64_t> completed{0}, errors{0}, late{0}, warmup{0};
  std::atomic<std::uint64_t> latency_buckets[kBucketsSeconds.size() + 1]{};  // last: +Inf
  std::atomic<std::uint64_t> latency_sum_ns{0};
  void observe(std::uint64_t latency_ns, bool error, bool late);
};

struct TimelinePoint {
  explicit TimelinePoint(unsigned bits) : latency(bits) {}
  std::uint64_t completed = 0;
  std::uint64_t errors = 0;
  LatencyHistogram latency;  // coarse: kTimelineBits
};

struct RunStats {
  static constexpr unsigned kLatencyBits = 10;  // 0.1 % precision
  static constexpr unsigned kTimelineBits = 5;  // 3 % precision, per interval
  static constexpr std::size_t kMaxTimelinePoints = 3600;

  RunStats() = default;
  void merge(const RunStats& other);

  LatencyHistogram latency{kLatencyBits};  // done - intended
  LatencyHistogram service{kLatencyBits};  // done - sent
  std::uint64_t completed = 0;             // measured requests with an outcome (ok or error)
  std::uint64_t errors = 0;
  std::uint64_t late = 0;
  std::uint64_t unsent = 0;   // intended within the run but never sent (the run ended first)
  std::uint64_t warmup = 0;   // completed during warm-up, not in the statistics
  std::int64_t last_done_ns = 0;  // latest completion, since the measurement start
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  std::array<std::uint64_t, 6> status_classes{};  // index status/100 (0: none)
  std::array<std::uint64_t, kRequestErrorKinds> error_kinds{};
  std::chrono::nanoseconds timeline_interval{std::chrono::seconds(1)};
  std::vector<TimelinePoint> timeline;
};

// Records one worker's requests into its RunStats (and its LiveCounters).
class RunRecorder {
 public:
  RunRecorder(RunStats& stats, LiveCounters* live, MonoTime measure_start, Duration late_threshold);

  void record(MonoTime intended, MonoTime sent, MonoTime done, const RequestOutcome& outcome);
  void record_unsent(MonoTime intended);

  MonoTime measure_start() const { return measure_start_; }

 private:
  RunStats& stats_;
  LiveCounters* live_;
  MonoTime measure_start_;
  Duration late_threshold_;
};

// Responses with a status >= 400 count as errors, like a transport error.
bool is_error(const RequestOutcome& o);

}  // namespace porthole::loadtest
