// The workload's OTLP metrics (POST /v1/metrics), kept as Prometheus series until the agent's
// metrics are collected: the latest value per series (deltas added up into cumulative series),
// added to the families the agent serves the sidecar, like the scraped workload metrics
// (WorkloadScraper::append_to), so the sidecar's /metrics exposes them with the `enclave` label
// and no timestamps. docs/telemetry-metrics.md.
//
// Bounded: at most config.max_series series and about config.max_bytes of text in all, at most
// the policy's max_series_per_family per family; a point of a new series beyond a cap is refused
// (a stored series is never evicted for a new one, so a cardinality burst cannot push out the
// series that were there), and a series not updated for config.staleness is removed. The
// telemetry policy is applied before anything is stored. Every refusal and removal is counted.
//
// Thread-safe: ingest() runs on the OTLP receiver's thread, append_to() on the agent's io thread.
// One mutex guards the series; conversion and policy run before taking it, serialisation after.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/agent/telemetry_config.hpp"
#include "porthole/common/time.hpp"
#include "porthole/common/warning_limiter.hpp"
#include "porthole/telemetry/otlp_metrics.hpp"
#include "porthole/telemetry/otlp_metrics_prometheus.hpp"
#include "porthole/telemetry/telemetry_policy.hpp"

namespace porthole::agent {

class OtlpMetricsStore {
 public:
  OtlpMetricsStore(const OtlpMetricsConfig& config, const telemetry::TelemetryPolicy& policy,
                   prometheus::Registry& registry, TimeSource& time);
  OtlpMetricsStore(const OtlpMetricsStore&) = delete;
  OtlpMetricsStore& operator=(const OtlpMetricsStore&) = delete;

  // What an export request gets back: ExportMetricsPartialSuccess.
  struct Outcome {
    std::uint64_t offered = 0;   // data points in the request
    std::uint64_t rejected = 0;  // rejected_data_points: invalid, reserved names, type conflicts, caps
    std::string message;         // why, when rejected > 0
  };
  Outcome ingest(const telemetry::MetricsBatch& batch);

  // Removes stale series, then adds the stored ones to `families` (the agent's own and the scraped
  // workload's): a family of a new name is appended, one of the same name and type is joined, one
  // of another type is left out and counted (families_dropped_total{reason="type_conflict"}).
  void append_to(std::vector<prometheus::MetricFamily>& families);

  std::size_t series() const;

  // What happened to each data point: porthole_otlp_metrics_points_total{result}. Every point of
  // a request is counted under exactly one.
  enum class Result : std::uint8_t {
    Accepted,
    RejectedInvalid,
    RejectedReservedName,
    RejectedTypeConflict,
    RejectedSeriesCap,
    RejectedBytesCap,
    DroppedPolicy,     // the telemetry policy removed it (family not allowed, duplicate once labels were removed)
    DroppedNoValue,    // flagged NO_RECORDED_VALUE
    DroppedDuplicate,  // a delta already added (the same start and end time: a retried export)
    kCount
  };
  static std::string_view to_string(Result r);

 private:
  struct Series {
    prometheus::ClientMetric metric;
    MonoTime updated;
    std::size_t bytes = 0;  // exposition_bytes() when last stored
    std::uint64_t delta_start = 0, delta_end = 0;  // the interval of the last delta added
  };
  struct Family {
    prometheus::MetricType type = prometheus::MetricType::Untyped;
    std::string help;
    std::map<std::vector<prometheus::ClientMetric::Label>, Series> series;
  };
  using Tally = std::array<std::uint64_t, static_cast<std::size_t>(Result::kCount)>;

  // Under mu_.
  Result put(const prometheus::MetricFamily& family, prometheus::ClientMetric&& series,
             const telemetry::PointInfo& info, MonoTime now);
  void expire(MonoTime now);

  const OtlpMetricsConfig& config_;
  const telemetry::TelemetryPolicy& policy_;
  TimeSource& time_;
  std::shared_ptr<spdlog::logger> log_;
  telemetry::PolicyMetrics policy_metrics_;
  std::array<prometheus::Counter*, static_cast<std::size_t>(Result::kCount)> points_{};
  prometheus::Counter& removed_stale_;
  prometheus::Counter& families_dropped_;
  prometheus::Gauge& series_gauge_;
  prometheus::Gauge& bytes_gauge_;

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::size_t series_count_ = 0;
  std::size_t bytes_ = 0;
  std::optional<MonoTime> last_expiry_;
  WarningLimiter refused_warnings_;
  std::set<std::string> conflicts_logged_;  // families warned about as type conflicts (bounded)
};

}  // namespace porthole::agent
