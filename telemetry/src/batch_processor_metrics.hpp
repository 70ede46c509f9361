// The self-metrics of one BatchProcessor (names listed in batch_processor.hpp).
#pragma once

#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace porthole::telemetry {

class BatchProcessorMetrics {
 public:
  // `signal` is "spans" or "logs"; `side` is "enclave" or "parent".
  BatchProcessorMetrics(prometheus::Registry& registry, std::string_view signal, const std::string& side);

  prometheus::Counter& received;
  prometheus::Counter& exported;
  prometheus::Counter& dropped_queue_full;
  prometheus::Counter& dropped_shutdown;
  prometheus::Counter& dropped_export_failed;
  prometheus::Counter& dropped_export_timeout;
  prometheus::Gauge& queue_depth;
  prometheus::Gauge& queue_bytes;
  prometheus::Histogram& batch_size;
  prometheus::Histogram& export_duration;
};

}  // namespace porthole::telemetry
