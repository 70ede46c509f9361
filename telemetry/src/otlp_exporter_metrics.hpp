// The exporter's self-metrics: what was sent, what was dropped and why, how full the retry
// buffer is, how long attempts take, and whether the collector answered the last attempt per
// signal (porthole_exporter_up: reachability, whatever the HTTP status).
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "porthole/telemetry/otlp_signal.hpp"

namespace porthole::telemetry {

// Drop reasons (label values of porthole_exporter_items_dropped_total).
inline constexpr std::string_view kDropBufferFull = "buffer_full";
inline constexpr std::string_view kDropRejected4xx = "rejected_4xx";
inline constexpr std::string_view kDropRejected5xx = "rejected_5xx";
inline constexpr std::string_view kDropRejectedOther = "rejected_other";
inline constexpr std::string_view kDropRetryExpired = "retry_expired";
inline constexpr std::string_view kDropShutdown = "shutdown";
inline constexpr std::string_view kDropDisabled = "disabled";

// Attempt outcomes (label values of porthole_exporter_requests_total).
inline constexpr std::string_view kOutcomeSuccess = "success";
inline constexpr std::string_view kOutcomeRetryableStatus = "retryable_status";
inline constexpr std::string_view kOutcomeRejected = "rejected";
inline constexpr std::string_view kOutcomeConnectionError = "connection_error";
inline constexpr std::string_view kOutcomeTimeout = "timeout";

class OtlpExporterMetrics {
 public:
  OtlpExporterMetrics(prometheus::Registry& registry, const std::string& side);

  void attempt(OtlpSignal s, std::string_view outcome, double seconds);
  void exported(OtlpSignal s, std::uint64_t items) { signals_[index_of(s)].exported->Increment(static_cast<double>(items)); }
  void dropped(OtlpSignal s, std::string_view reason, std::uint64_t items);
  void retry(OtlpSignal s) { signals_[index_of(s)].retries->Increment(); }
  void queue(std::uint64_t bytes, std::uint64_t requests) {
    queue_bytes_->Set(static_cast<double>(bytes));
    queue_requests_->Set(static_cast<double>(requests));
  }

 private:
  struct PerSignal {
    std::map<std::string, prometheus::Counter*, std::less<>> requests;  // by outcome
    std::map<std::string, prometheus::Counter*, std::less<>> dropped;   // by reason
    prometheus::Counter* exported = nullptr;
    prometheus::Counter* retries = nullptr;
    prometheus::Histogram* duration = nullptr;
    prometheus::Gauge* up = nullptr;
  };
  std::array<PerSignal, kOtlpSignals.size()> signals_;
  prometheus::Gauge* queue_bytes_ = nullptr;
  prometheus::Gauge* queue_requests_ = nullptr;
};

}  // namespace porthole::telemetry
