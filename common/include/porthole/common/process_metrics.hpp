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
