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

void LiveCounters::observe(std::uint64_t latency_ns, bool error, bool is_late) {
  completed.fetch_add(1, std::memory_order_relaxed);
  if (error) errors.fetch_add(1, std::memory_order_relaxed);
  if (is_late) late.fetch_add(1, std::memory_order_relaxed);
  const double s = static_cast<double>(latency_ns) * 1e-9;
  const auto it = std::lower_bound(kBucketsSeconds.begin(), kBucketsSeconds.end(), s);
  latency_buckets[it - kBucketsSeconds.begin()].fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns.fetch_add(latency_ns, std::memory_order_relaxed);
}

void RunStats::merge(const RunStats& o) {
  latency.merge(o.latency);
  service.merge(o.service);
  completed += o.completed;
  errors += o.errors;
  late += o.late;
  unsent += o.unsent;
  warmup += o.warmup;
  last_done_ns = std::max(last_done_ns, o.last_done_ns);
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  for (std::size_t i = 0; i < status_classes.size(); ++i) status_classes[i] += o.status_classes[i];
  for (std::size_t i = 0; i < error_kinds.size(); ++i) error_kinds[i] += o.error_kinds[i];
  while (timeline.size() < o.timeline.size()) timeline.emplace_back(kTimelineBits);
  for (std::size_t i = 0; i < o.timeline.size(); ++i) {
    timeline[i].completed += o.timeline[i].completed;
    timeline[i].errors += o.timeline[i].errors;
    timeline[i].latency.merge(o.timeline[i].latency);
  }
}

RunRecorder::RunRecorder(RunStats& stats, LiveCounters* live, MonoTime measure_start, Duration late_threshold)
    : stats_(stats), live_(live), measure_start_(measure_start), late_threshold_(late_threshold) {}

void RunRecorder::record(MonoTime intended, MonoTime sent, MonoTime done, const RequestOutcome& o) {
  const bool error = is_error(o);
  if (intended < measure_start_) {
    ++stats_.warmup;
    if (live_) live_->warmup.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto latency = static_cast<std::uint64_t>(std::max<std::int64_t>(0, (done - intended).count()));
  const auto service = static_cast<std::uint64_t>(std::max<std::int64_t>(0, (done - sent).count()));
  const bool late = sent - intended > late_threshold_;
  stats_.latency.record(latency);
  stats_.service.record(service);
  ++stats_.completed;
  if (error) ++stats_.errors;
  if (late) ++stats_.late;
  stats_.bytes_sent += o.bytes_sent;
  stats_.bytes_received += o.bytes_received;
  ++stats_.status_classes[std::min<unsigned>(o.status / 100, 5)];
  ++stats_.error_kinds[static_cast<std::size_t>(o.error)];
  if (live_) live_->observe(latency, error, late);

  const auto since = done - measure_start_;
  stats_.last_done_ns = std::max<std::int64_t>(stats_.last_done_ns, since.count());
  auto slot = static_cast<std::size_t>(since / stats_.timeline_interval);
  slot = std::min(slot, RunStats::kMaxTimelinePoints - 1);
  while (stats_.timeline.size() <= slot) stats_.timeline.emplace_back(RunStats::kTimelineBits);
  auto& point = stats_.timeline[slot];
  ++point.completed;
  if (error) ++point.errors;
  point.latency.record(latency);
}

void RunRecorder::record_unsent(MonoTime intended) {
  if (intended >= measure_start_) ++stats_.unsent;
}

}  // namespace porthole::loadtest
