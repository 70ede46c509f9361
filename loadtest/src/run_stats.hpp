// What one worker thread records about its requests, and the merged result of a run. A request
// is measured from its intended send time (latency, coordinated-omission corrected) and from
// when its bytes started to go out (service time; connecting and the TLS handshake are recorded
// apart, in `connect`); one that goes out later than `late_threshold` after its intended time is
// counted as late. Requests intended before the end of warm-up only count in `warmup`. Sends and
// successful responses are also counted by *when* they happened, inside the measurement window,
// for the send rate and the throughput. Memory is bounded: fixed-size histograms, at most
// kMaxTimelinePoints intervals (the interval doubles when a run outgrows them) and at most
// `dump_limit` per-request records.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
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
  // This request opened a connection (TCP connect, and the TLS handshake for https) that
  // succeeded after `connect`; the request's bytes went out only then.
  bool connected = false;
  Duration connect{0};
  // The request's bytes started to go out (false: the connection could not be made, or the
  // request was cancelled before it was written).
  bool written = false;
};

// Responses with a status >= 400 count as errors, like a transport error.
bool is_error(const RequestOutcome& o);

// One worker's running totals, readable from other threads (live metrics). Each worker has its
// own, on its own cache lines: the data path never writes a line another worker writes.
struct alignas(64) LiveCounters {
  static constexpr std::array<double, 16> kBucketsSeconds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
  struct Histogram {
    std::atomic<std::uint64_t> buckets[kBucketsSeconds.size() + 1]{};  // last: +Inf
    std::atomic<std::uint64_t> sum_ns{0};
    void observe(std::uint64_t ns);
  };
  std::atomic<std::uint64_t> completed{0}, errors{0}, late{0}, warmup{0}, sent{0}, unsent{0};
  Histogram latency, service, connect;
};

// Every worker's LiveCounters, summed when Prometheus scrapes.
class LiveCounterSet {
 public:
  explicit LiveCounterSet(unsigned workers = 1);
  LiveCounters& worker(unsigned index) { return *workers_[index % workers_.size()]; }
  std::uint64_t sum(std::atomic<std::uint64_t> LiveCounters::*field) const;
  // Cumulative bucket counts (the last one is +Inf) and the sum in seconds.
  std::pair<std::vector<std::uint64_t>, double> histogram(LiveCounters::Histogram LiveCounters::*field) const;

 private:
  std::vector<std::unique_ptr<LiveCounters>> workers_;
};

struct TimelinePoint {
  explicit TimelinePoint(unsigned bits) : latency(bits) {}
  std::uint64_t completed = 0;
  std::uint64_t errors = 0;
  LatencyHistogram latency;  // coarse: kTimelineBits
  void merge(const TimelinePoint& other);
};

// One request for --dump-requests: times since the run's t=0.
struct RequestRecord {
  std::uint32_t connection = 0;
  std::uint64_t index = 0;       // the connection's request number
  std::int64_t intended_ns = 0;
  std::int64_t dispatched_ns = 0;  // handed to its connection (late if well after intended)
  std::int64_t sent_ns = -1;     // its bytes started to go out; -1: never written
  std::int64_t done_ns = 0;
  std::int64_t connect_ns = 0;   // a connection opened for it (0: reused)
  unsigned status = 0;
  RequestError error = RequestError::None;
  bool warmup = false;
};

struct RunStats {
  static constexpr unsigned kLatencyBits = 10;  // 0.1 % precision
  static constexpr unsigned kTimelineBits = 5;  // 3 % precision, per interval
  // ~5 KiB each: at most ~3 MiB of timeline per worker, whatever the run length.
  static constexpr std::size_t kMaxTimelinePoints = 600;

  RunStats() = default;
  // Adds `other`; a timeline of a finer interval is coarsened to the coarser one first.
  void merge(const RunStats& other);

  LatencyHistogram latency{kLatencyBits};  // done - intended, every measured request
  LatencyHistogram service{kLatencyBits};  // done - written, measured requests that were written
  LatencyHistogram connect{kLatencyBits};  // connect + TLS handshake, every connection the run opened
  // Service time of every request that got an HTTP response, warm-up included: the client side
  // of the breakdown, which compares with server histograms scraped around the whole run.
  LatencyHistogram responded{kLatencyBits};
  std::uint64_t completed = 0;             // measured requests with an outcome (ok or error)
  std::uint64_t errors = 0;
  std::uint64_t late = 0;
  std::uint64_t unsent = 0;   // intended within the run but never sent (the run ended first)
  std::uint64_t warmup = 0;   // completed during warm-up, not in the statistics
  std::uint64_t connect_failures = 0;  // connections that could not be opened (every request)
  // By when it happened, whatever the request's intended time: sends that started, and
  // successful responses that arrived, inside the measurement window.
  std::uint64_t sent_in_window = 0;
  std::uint64_t ok_in_window = 0;
  std::int64_t last_done_ns = 0;  // latest completion, since the measurement start
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  std::array<std::uint64_t, 6> status_classes{};  // index status/100 (0: none)
  std::array<std::uint64_t, kRequestErrorKinds> error_kinds{};
  std::chrono::nanoseconds timeline_interval{std::chrono::seconds(1)};
  std::vector<TimelinePoint> timeline;
  std::vector<RequestRecord> requests;  // --dump-requests only
  std::uint64_t requests_not_dumped = 0;

  // Adds one completion to the timeline, doubling the interval while it would not fit.
  void add_to_timeline(std::chrono::nanoseconds since_measure_start, std::uint64_t latency_ns, bool error);

 private:
  void coarsen_timeline();
};

// When the request went out and what came back, as the ConnectionLoop saw it.
struct RequestTimes {
  std::uint32_t connection = 0;
  std::uint64_t index = 0;
  MonoTime intended;
  MonoTime dispatched;  // handed to the exchange (connecting first, if it had to)
  MonoTime done;
};

struct RecorderWindow {
  MonoTime run_start;      // t=0 (warm-up begins)
  MonoTime measure_start;  // warm-up ends
  MonoTime measure_end = MonoTime::max();  // sends and successes after this are not in the rates
};

// Records one worker's requests into its RunStats (and its LiveCounters).
class RunRecorder {
 public:
  RunRecorder(RunStats& stats, LiveCounters* live, RecorderWindow window, Duration late_threshold,
              std::size_t dump_limit = 0);

  void record(const RequestTimes& t, const RequestOutcome& outcome);
  void record_unsent(MonoTime intended);

  MonoTime measure_start() const { return window_.measure_start; }

 private:
  void dump(const RequestTimes& t, const RequestOutcome& o, bool warmup);

  RunStats& stats_;
  LiveCounters* live_;
  RecorderWindow window_;
  Duration late_threshold_;
  std::size_t dump_limit_;
};

}  // namespace porthole::loadtest
