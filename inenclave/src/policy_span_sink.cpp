#include "porthole/agent/policy_span_sink.hpp"

namespace porthole::agent {

bool PolicySpanSink::submit(telemetry::SpanItem&& item) {
  // The policy works on batches: a batch of one.
  std::vector<telemetry::SpanItem> one;
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

}  // namespace porthole::agent
