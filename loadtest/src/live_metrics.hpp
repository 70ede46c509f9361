// Live Prometheus metrics while a run is going (--metrics-listen): every worker counts into its
// own LiveCounters (relaxed atomics on its own cache lines), and a scrape sums them.
#pragma once

#include <atomic>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "run_stats.hpp"

namespace porthole::loadtest {

class LiveMetrics final : public prometheus::Collectable {
 public:
  explicit LiveMetrics(unsigned workers) : counters_(workers) {}
  LiveCounterSet& counters() { return counters_; }
  void set_target_rate(double rate) { target_rate_.store(rate); }
  void set_running(bool running) { running_.store(running); }
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  LiveCounterSet counters_;
  std::atomic<double> target_rate_{0};
  std::atomic<bool> running_{false};
};

}  // namespace porthole::loadtest
