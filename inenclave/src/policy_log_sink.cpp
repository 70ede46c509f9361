#include "porthole/agent/policy_log_sink.hpp"

namespace porthole::agent {

bool PolicyLogSink::submit(telemetry::LogItem&& item) {
  // The policy works on batches: a batch of one (the origin is copied into it, then shared again).
  std::vector<telemetry::LogItem> one;
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
