#include "run_stats.hpp"

#include <algorithm>

namespace porthole::loadtest {

const char* to_string(RequestError e) {
  switch (e) {
    case RequestError::None: return "none";
    case RequestError::Connect: return "connect";
    case RequestError::Timeout: return "timeout";
    case RequestError::Reset: return "reset";
    case RequestError::Io: return "io";
    case RequestError::Protocol: return "protocol";
    case RequestError::Tls: return "tls";
    case RequestError::Closed: return "closed";
  }
  return "unknown";
}

bool is_error(const RequestOutcome& o) { return o.error != RequestError::None || o.status >= 400; }

void LiveCounters::Histogram::observe(std::uint64_t ns) {
  const double s = static_cast<double>(ns) * 1e-9;
  const auto it = std::lower_bound(kBucketsSeconds.begin(), kBucketsSeconds.end(), s);
  buckets[it - kBucketsSeconds.begin()].fetch_add(1, std::memory_order_relaxed);
  sum_ns.fetch_add(ns, std::memory_order_relaxed);
}

LiveCounterSet::LiveCounterSet(unsigned workers) {
  for (unsigned i = 0; i < std::max(1u, workers); ++i) workers_.push_back(std::make_unique<LiveCounters>());
}

std::uint64_t LiveCounterSet::sum(std::atomic<std::uint64_t> LiveCounters::*field) const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += ((*w).*field).load(std::memory_order_relaxed);
  return n;
}

std::pair<std::vector<std::uint64_t>, double> LiveCounterSet::histogram(
    LiveCounters::Histogram LiveCounters::*field) const {
  std::vector<std::uint64_t> cumulative(LiveCounters::kBucketsSeconds.size() + 1, 0);
  std::uint64_t sum_ns = 0;
  for (const auto& w : workers_) {
    const auto& h = (*w).*field;
    for (std::size_t i = 0; i < cumulative.size(); ++i) cumulative[i] += h.buckets[i].load(std::memory_order_relaxed);
    sum_ns += h.sum_ns.load(std::memory_order_relaxed);
  }
  for (std::size_t i = 1; i < cumulative.size(); ++i) cumulative[i] += cumulative[i - 1];
  return {std::move(cumulative), static_cast<double>(sum_ns) * 1e-9};
}

void TimelinePoint::merge(const TimelinePoint& o) {
  completed += o.completed;
  errors += o.errors;
  latency.merge(o.latency);
}

namespace {

// Merges neighbouring points pairwise: the same run at twice the interval.
void coarsen(std::vector<TimelinePoint>& timeline, std::chrono::nanoseconds& interval) {
  std::vector<TimelinePoint> coarse;
  for (std::size_t i = 0; i < timeline.size(); i += 2) {
    coarse.push_back(std::move(timeline[i]));
    if (i + 1 < timeline.size()) coarse.back().merge(timeline[i + 1]);
  }
  timeline = std::move(coarse);
  interval *= 2;
}

}  // namespace

void RunStats::coarsen_timeline() { coarsen(timeline, timeline_interval); }

void RunStats::add_to_timeline(std::chrono::nanoseconds since, std::uint64_t latency_ns, bool error) {
  if (since.count() < 0) since = std::chrono::nanoseconds(0);
  auto slot = static_cast<std::size_t>(since / timeline_interval);
  while (slot >= kMaxTimelinePoints) {
    coarsen_timeline();
    slot = static_cast<std::size_t>(since / timeline_interval);
  }
  while (timeline.size() <= slot) timeline.emplace_back(kTimelineBits);
  auto& point = timeline[slot];
  ++point.completed;
  if (error) ++point.errors;
  point.latency.record(latency_ns);
}

void RunStats::merge(const RunStats& o) {
  latency.merge(o.latency);
  service.merge(o.service);
  connect.merge(o.connect);
  responded.merge(o.responded);
  completed += o.completed;
  errors += o.errors;
  late += o.late;
  unsent += o.unsent;
  warmup += o.warmup;
  connect_failures += o.connect_failures;
  sent_in_window += o.sent_in_window;
  ok_in_window += o.ok_in_window;
  last_done_ns = std::max(last_done_ns, o.last_done_ns);
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  for (std::size_t i = 0; i < status_classes.size(); ++i) status_classes[i] += o.status_classes[i];
  for (std::size_t i = 0; i < error_kinds.size(); ++i) error_kinds[i] += o.error_kinds[i];
  // Intervals are the same base doubled some times: coarsen the finer side until they match.
  std::vector<TimelinePoint> coarsened;  // theirs at our interval, when theirs is finer
  const std::vector<TimelinePoint>* theirs = &o.timeline;
  if (!o.timeline.empty()) {
    if (timeline.empty()) timeline_interval = o.timeline_interval;
    while (timeline_interval < o.timeline_interval) coarsen_timeline();
    if (o.timeline_interval < timeline_interval) {
      coarsened = o.timeline;
      auto interval = o.timeline_interval;
      while (interval < timeline_interval) coarsen(coarsened, interval);
      theirs = &coarsened;
    }
  }
  while (timeline.size() < theirs->size()) timeline.emplace_back(kTimelineBits);
  for (std::size_t i = 0; i < theirs->size(); ++i) timeline[i].merge((*theirs)[i]);
  requests.insert(requests.end(), o.requests.begin(), o.requests.end());
  requests_not_dumped += o.requests_not_dumped;
}

RunRecorder::RunRecorder(RunStats& stats, LiveCounters* live, RecorderWindow window, Duration late_threshold,
                         std::size_t dump_limit)
    : stats_(stats), live_(live), window_(window), late_threshold_(late_threshold), dump_limit_(dump_limit) {}

void RunRecorder::record(const RequestTimes& t, const RequestOutcome& o) {
  const bool error = is_error(o);
  const MonoTime written = t.dispatched + (o.connected ? o.connect : Duration(0));
  const auto service = static_cast<std::uint64_t>(std::max<std::int64_t>(0, (t.done - written).count()));
  // Every connection the run opened and every request that got a response, warm-up included;
  // sends and successes by when they happened.
  if (o.connected) {
    stats_.connect.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, o.connect.count())));
    if (live_) live_->connect.observe(static_cast<std::uint64_t>(std::max<std::int64_t>(0, o.connect.count())));
  }
  if (o.error == RequestError::Connect || o.error == RequestError::Tls) ++stats_.connect_failures;
  if (o.written && o.status != 0) stats_.responded.record(service);
  if (o.written && written >= window_.measure_start && written < window_.measure_end) {
    ++stats_.sent_in_window;
    if (live_) live_->sent.fetch_add(1, std::memory_order_relaxed);
  }
  if (!error && t.done >= window_.measure_start && t.done < window_.measure_end) ++stats_.ok_in_window;
  if (dump_limit_ != 0) dump(t, o, t.intended < window_.measure_start);

  if (t.intended < window_.measure_start) {
    ++stats_.warmup;
    if (live_) live_->warmup.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto latency = static_cast<std::uint64_t>(std::max<std::int64_t>(0, (t.done - t.intended).count()));
  const bool late = t.dispatched - t.intended > late_threshold_;
  stats_.latency.record(latency);
  if (o.written) stats_.service.record(service);
  ++stats_.completed;
  if (error) ++stats_.errors;
  if (late) ++stats_.late;
  stats_.bytes_sent += o.bytes_sent;
  stats_.bytes_received += o.bytes_received;
  ++stats_.status_classes[std::min<unsigned>(o.status / 100, 5)];
  ++stats_.error_kinds[static_cast<std::size_t>(o.error)];
  if (live_) {
    live_->completed.fetch_add(1, std::memory_order_relaxed);
    if (error) live_->errors.fetch_add(1, std::memory_order_relaxed);
    if (late) live_->late.fetch_add(1, std::memory_order_relaxed);
    live_->latency.observe(latency);
    if (o.written) live_->service.observe(service);
  }

  const auto since = t.done - window_.measure_start;
  stats_.last_done_ns = std::max<std::int64_t>(stats_.last_done_ns, since.count());
  stats_.add_to_timeline(since, latency, error);
}

void RunRecorder::dump(const RequestTimes& t, const RequestOutcome& o, bool warmup) {
  if (stats_.requests.size() >= dump_limit_) {
    ++stats_.requests_not_dumped;
    return;
  }
  RequestRecord r;
  r.connection = t.connection;
  r.index = t.index;
  r.intended_ns = (t.intended - window_.run_start).count();
  r.dispatched_ns = (t.dispatched - window_.run_start).count();
  if (o.written) r.sent_ns = (t.dispatched + (o.connected ? o.connect : Duration(0)) - window_.run_start).count();
  r.done_ns = (t.done - window_.run_start).count();
  r.connect_ns = o.connected ? o.connect.count() : 0;
  r.status = o.status;
  r.error = o.error;
  r.warmup = warmup;
  stats_.requests.push_back(r);
}

void RunRecorder::record_unsent(MonoTime intended) {
  if (intended >= window_.measure_start) {
    ++stats_.unsent;
    if (live_) live_->unsent.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace porthole::loadtest
