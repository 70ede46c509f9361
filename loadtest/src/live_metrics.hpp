// Live Prometheus metrics while a run is going (--metrics-listen): counters summed from the
// workers' LiveCounters at scrape time, so the data path only does relaxed atomic increments.
#pragma once

#include <atomic>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "run_stats.hpp"

namespace porthole::loadtest {

class LiveMetrics final : public prometheus::Collectable {
 public:
  LiveCounters& counters() { return counters_; }
  void set_target_rate(double rate) { target_rate_.store(rate); }
  void set_running(bool running) { running_.store(running); }
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  LiveCounters counters_;
  std::atomic<double> target_rate_{0};
  std::atomic<bool> running_{false};
};

}  // namespace porthole::loadtest
