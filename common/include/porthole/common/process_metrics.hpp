// The standard process_* metrics (resident memory, open fds, CPU seconds, start time) read from
// /proc/self at collection time. Open fds is how a leak in a relay shows up before it kills us.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>

namespace porthole {

class ProcessMetrics final : public prometheus::Collectable {
 public:
  explicit ProcessMetrics(prometheus::Labels constant_labels) : labels_(std::move(constant_labels)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  prometheus::Labels labels_;
};

// The number of open file descriptors of this process (-1 when /proc is unavailable).
int count_open_fds();

}  // namespace porthole

namespace porthole {

// Raises this process's open-file soft limit to its hard limit: every relayed connection costs
// two descriptors, and the usual soft limit of 1024 would cap a relay at ~500 connections.
// Returns the new soft limit.
long raise_open_file_limit();

}  // namespace porthole
