// Applies the telemetry policy to spans the agent records itself (HTTP server spans at ingress)
// before they reach the span batch processor: everything that leaves the enclave passes the
// policy, whatever produced it — e.g. `url.path` is recorded but the default policy removes it.
#pragma once

#include "porthole/telemetry/item_sink.hpp"
#include "porthole/telemetry/telemetry_policy.hpp"

namespace porthole::agent {

class PolicySpanSink final : public telemetry::SpanProcessor {
 public:
  // `metrics` may be null. Thread-safe like `next`.
  PolicySpanSink(const telemetry::TelemetryPolicy& policy, telemetry::SpanProcessor& next,
                 telemetry::PolicyMetrics* metrics)
      : policy_(policy), next_(next), metrics_(metrics) {}

  bool submit(telemetry::SpanItem&& item) override;

 private:
  const telemetry::TelemetryPolicy& policy_;
  telemetry::SpanProcessor& next_;
  telemetry::PolicyMetrics* metrics_;
};

}  // namespace porthole::agent
