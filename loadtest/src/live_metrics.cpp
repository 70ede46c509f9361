#include "live_metrics.hpp"

#include <limits>

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

prometheus::MetricFamily histogram(const char* name, const char* help, const LiveCounterSet& set,
                                   LiveCounters::Histogram LiveCounters::*field) {
  prometheus::MetricFamily f{name, help, prometheus::MetricType::Histogram, {}};
  const auto [cumulative, sum_seconds] = set.histogram(field);
  prometheus::ClientMetric m;
  for (std::size_t i = 0; i < cumulative.size(); ++i) {
    prometheus::ClientMetric::Bucket b;
    b.upper_bound = i < LiveCounters::kBucketsSeconds.size() ? LiveCounters::kBucketsSeconds[i]
                                                             : std::numeric_limits<double>::infinity();
    b.cumulative_count = cumulative[i];
    m.histogram.bucket.push_back(b);
  }
  m.histogram.sample_count = cumulative.back();
  m.histogram.sample_sum = sum_seconds;
  f.metric.push_back(m);
  return f;
}

}  // namespace

std::vector<prometheus::MetricFamily> LiveMetrics::Collect() const {
  using prometheus::MetricType;
  auto total = [this](std::atomic<std::uint64_t> LiveCounters::*field) {
    return static_cast<double>(counters_.sum(field));
  };
  std::vector<prometheus::MetricFamily> out;
  out.push_back(single("porthole_loadtest_requests_total", "Measured requests completed (ok or error), warm-up excluded.",
                       MetricType::Counter, total(&LiveCounters::completed)));
  out.push_back(single("porthole_loadtest_errors_total",
                       "Measured requests that failed: transport errors, timeouts and HTTP status >= 400.",
                       MetricType::Counter, total(&LiveCounters::errors)));
  out.push_back(single("porthole_loadtest_sent_requests_total",
                       "Requests whose bytes started to go out inside the measurement window.", MetricType::Counter,
                       total(&LiveCounters::sent)));
  out.push_back(single("porthole_loadtest_late_requests_total",
                       "Requests sent later than --late-threshold after their intended send time.",
                       MetricType::Counter, total(&LiveCounters::late)));
  out.push_back(single("porthole_loadtest_unsent_requests_total",
                       "Requests intended inside the measurement window that were never sent (counted when the run "
                       "ends or is interrupted).",
                       MetricType::Counter, total(&LiveCounters::unsent)));
  out.push_back(single("porthole_loadtest_warmup_requests_total", "Requests completed during warm-up (not measured).",
                       MetricType::Counter, total(&LiveCounters::warmup)));
  out.push_back(single("porthole_loadtest_target_requests_per_second",
                       "The open-loop target rate over all connections; 0 for a closed-loop run.", MetricType::Gauge,
                       target_rate_.load()));
  out.push_back(single("porthole_loadtest_running", "1 while a run is sending load.", MetricType::Gauge,
                       running_.load() ? 1 : 0));
  out.push_back(histogram("porthole_loadtest_latency_seconds",
                          "Request latency from the intended send time (coordinated omission corrected).", counters_,
                          &LiveCounters::latency));
  out.push_back(histogram("porthole_loadtest_service_time_seconds",
                          "From a request's first byte written to its response (what a closed-loop tool reports).",
                          counters_, &LiveCounters::service));
  out.push_back(histogram("porthole_loadtest_connect_duration_seconds",
                          "TCP connect (and TLS handshake) of every connection the run opened.", counters_,
                          &LiveCounters::connect));
  return out;
}

}  // namespace porthole::loadtest
