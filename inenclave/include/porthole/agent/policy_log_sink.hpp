// Applies the telemetry policy to log records that do not come through the OTLP receiver (the
// workload's stdout/stderr lines, the agent's own log records) before they reach the log batch
// processor: everything that leaves the enclave passes the policy, whatever produced it.
#pragma once

#include "porthole/telemetry/item_sink.hpp"
#include "porthole/telemetry/telemetry_policy.hpp"

namespace porthole::agent {

class PolicyLogSink final : public telemetry::ItemSink<telemetry::LogItem> {
 public:
  // `metrics` may be null. Thread-safe like `next`.
  PolicyLogSink(const telemetry::TelemetryPolicy& policy, telemetry::ItemSink<telemetry::LogItem>& next,
                telemetry::PolicyMetrics* metrics)
      : policy_(policy), next_(next), metrics_(metrics) {}

  bool submit(telemetry::LogItem&& item) override;

 private:
  const telemetry::TelemetryPolicy& policy_;
  telemetry::ItemSink<telemetry::LogItem>& next_;
  telemetry::PolicyMetrics* metrics_;
};

}  // namespace porthole::agent
