#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "porthole/telemetry/telemetry_policy.hpp"

namespace porthole::telemetry {
namespace {

// The (kind, reason) pairs that can happen; only these get a series.
constexpr std::pair<PolicyKind, PolicyReason> kPairs[] = {
    {PolicyKind::SpanAttribute, PolicyReason::NotAllowed},
    {PolicyKind::SpanAttribute, PolicyReason::Truncated},
    {PolicyKind::ResourceAttribute, PolicyReason::NotAllowed},
    {PolicyKind::ResourceAttribute, PolicyReason::Truncated},
    {PolicyKind::LogAttribute, PolicyReason::NotAllowed},
    {PolicyKind::LogAttribute, PolicyReason::Truncated},
    {PolicyKind::LogBody, PolicyReason::NotAllowed},
    {PolicyKind::LogBody, PolicyReason::Truncated},
    {PolicyKind::SpanStatusMessage, PolicyReason::NotAllowed},
    {PolicyKind::SpanStatusMessage, PolicyReason::Truncated},
    {PolicyKind::MetricFamily, PolicyReason::NotAllowed},
    {PolicyKind::MetricLabel, PolicyReason::NotAllowed},
    {PolicyKind::MetricLabel, PolicyReason::Truncated},
    {PolicyKind::MetricSeries, PolicyReason::SeriesCap},
    {PolicyKind::MetricSeries, PolicyReason::Duplicate},
};

}  // namespace

PolicyMetrics::PolicyMetrics(prometheus::Registry& registry, const std::string& side) {
  auto& family = prometheus::BuildCounter()
                     .Name("porthole_telemetry_policy_actions_total")
                     .Help("Telemetry items the telemetry policy removed (or truncated), by kind and reason")
                     .Register(registry);
  for (const auto& [kind, reason] : kPairs) {
    counters_[static_cast<std::size_t>(kind)][static_cast<std::size_t>(reason)] =
        &family.Add({{"side", side}, {"kind", std::string(to_string(kind))}, {"reason", std::string(to_string(reason))}});
  }
}

void PolicyMetrics::record(const PolicyCounts& counts) {
  for (std::size_t k = 0; k < counters_.size(); ++k) {
    for (std::size_t r = 0; r < counters_[k].size(); ++r) {
      const auto n = counts.counts[k][r];
      if (n != 0 && counters_[k][r] != nullptr) counters_[k][r]->Increment(static_cast<double>(n));
    }
  }
}

}  // namespace porthole::telemetry
