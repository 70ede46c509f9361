// Applies the telemetry policy to spans and log records that do not come through the OTLP
// receiver — the workload's stdout/stderr lines, the agent's own log records, the HTTP server
// spans it records at ingress — before they reach a batch processor: everything that leaves the
// enclave passes the policy, whatever produced it.
#pragma once

#include <vector>

#include "porthole/telemetry/item_sink.hpp"
#include "porthole/telemetry/telemetry_policy.hpp"

namespace porthole::agent {

template <class Item>
class PolicySink final : public telemetry::ItemSink<Item> {
 public:
  // `metrics` may be null. Thread-safe like `next`.
  PolicySink(const telemetry::TelemetryPolicy& policy, telemetry::ItemSink<Item>& next, telemetry::PolicyMetrics* metrics)
      : policy_(policy), next_(next), metrics_(metrics) {}

  bool submit(Item&& item) override {
    // The policy works on batches: a batch of one.
    std::vector<Item> one;
    one.push_back(std::move(item));
    auto batch = telemetry::group_items(std::move(one));
    const auto counts = telemetry::apply_policy(policy_, batch);
    if (metrics_) metrics_->record(counts);
    bool accepted = true;
    for (auto& filtered : telemetry::split_batch(std::move(batch))) {
      accepted = next_.submit(std::move(filtered)) && accepted;
    }
    return accepted;
  }

 private:
  const telemetry::TelemetryPolicy& policy_;
  telemetry::ItemSink<Item>& next_;
  telemetry::PolicyMetrics* metrics_;
};

using PolicyLogSink = PolicySink<telemetry::LogItem>;
using PolicySpanSink = PolicySink<telemetry::SpanItem>;

}  // namespace porthole::agent
