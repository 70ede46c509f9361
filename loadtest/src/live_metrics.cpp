#include "live_metrics.hpp"

namespace porthole::loadtest {

namespace {

prometheus::MetricFamily single(const char* name, const char* help, prometheus::MetricType type, double value) {
  prometheus::MetricFamily f{name, help, type, {}};
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(m);
  return f;
}

}  // namespace

std::vector<prometheus::MetricFamily> LiveMetrics::Collect() const {
  using prometheus::MetricType;
  auto load = [](const std::atomic<std::uint64_t>& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); };
  std::vector<prometheus::MetricFamily> out;
  out.push_back(single("porthole_loadtest_requests_total", "Measured requests completed (ok or error), warm-up excluded.",
                       MetricType::Counter, load(counters_.completed)));
  out.push_back(single("porthole_loadtest_errors_total",
                       "Measured requests that failed: transport errors, timeouts and HTTP status >= 400.",
                       MetricType::Counter, load(counters_.errors)));
  out.push_back(single("porthole_loadtest_late_requests_total",
                       "Requests sent later than --late-threshold after their intended send time.",
                       MetricType::Counter, load(counters_.late)));
  out.push_back(single("porthole_loadtest_warmup_requests_total", "Requests completed during warm-up (not measured).",
                       MetricType::Counter, load(counters_.warmup)));
  out.push_back(single("porthole_loadtest_target_requests_per_second",
                       "The open-loop target rate over all connections; 0 for a closed-loop run.", MetricType::Gauge,
                       target_rate_.load()));
  out.push_back(single("porthole_loadtest_running", "1 while a run is sending load.", MetricType::Gauge,
                       running_.load() ? 1 : 0));
  prometheus::MetricFamily h{"porthole_loadtest_latency_seconds",
                             "Request latency from the intended send time (coordinated omission corrected).",
                             MetricType::Histogram, {}};
  prometheus::ClientMetric m;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < LiveCounters::kBucketsSeconds.size(); ++i) {
    cumulative += counters_.latency_buckets[i].load(std::memory_order_relaxed);
    prometheus::ClientMetric::Bucket b;
    b.upper_bound = LiveCounters::kBucketsSeconds[i];
    b.cumulative_count = cumulative;
    m.histogram.bucket.push_back(b);
  }
  cumulative += counters_.latency_buckets[LiveCounters::kBucketsSeconds.size()].load(std::memory_order_relaxed);
  prometheus::ClientMetric::Bucket inf;
  inf.upper_bound = std::numeric_limits<double>::infinity();
  inf.cumulative_count = cumulative;
  m.histogram.bucket.push_back(inf);
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = load(counters_.latency_sum_ns) * 1e-9;
  h.metric.push_back(m);
  out.push_back(std::move(h));
  return out;
}

}  // namespace porthole::loadtest
