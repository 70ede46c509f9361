#include "porthole/agent/otlp_metrics_store.hpp"

#include <algorithm>

#include "porthole/common/logging.hpp"
#include "porthole/telemetry/prom_text.hpp"

namespace porthole::agent {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using Result = OtlpMetricsStore::Result;

constexpr std::string_view kTargetInfo = "target_info";
constexpr std::size_t kMaxConflictsLogged = 64;

std::size_t at(Result r) { return static_cast<std::size_t>(r); }

std::size_t series_in(const std::vector<MetricFamily>& families) {
  std::size_t n = 0;
  for (const auto& f : families) n += f.metric.size();
  return n;
}

// The sweep on the receiver's thread runs at most this often (append_to always sweeps).
constexpr Duration kExpiryInterval = std::chrono::seconds(1);

}  // namespace

std::string_view OtlpMetricsStore::to_string(Result r) {
  switch (r) {
    case Result::Accepted: return "accepted";
    case Result::RejectedInvalid: return "rejected_invalid";
    case Result::RejectedReservedName: return "rejected_reserved_name";
    case Result::RejectedTypeConflict: return "rejected_type_conflict";
    case Result::RejectedSeriesCap: return "rejected_series_cap";
    case Result::RejectedBytesCap: return "rejected_bytes_cap";
    case Result::DroppedPolicy: return "dropped_policy";
    case Result::DroppedNoValue: return "dropped_no_value";
    case Result::DroppedDuplicate: return "dropped_duplicate";
    case Result::kCount: break;
  }
  return "unknown";
}

OtlpMetricsStore::OtlpMetricsStore(const OtlpMetricsConfig& config, const telemetry::TelemetryPolicy& policy,
                                   prometheus::Registry& registry, TimeSource& time)
    : config_(config),
      policy_(policy),
      time_(time),
      log_(logger("otlp")),
      policy_metrics_(registry, "enclave"),
      removed_stale_(prometheus::BuildCounter()
                         .Name("porthole_otlp_metrics_series_removed_total")
                         .Help("Series of the workload's OTLP metrics removed, by reason (stale: not updated for "
                               "telemetry.metrics.staleness).")
                         .Register(registry)
                         .Add({{"side", "enclave"}, {"reason", "stale"}})),
      families_dropped_(prometheus::BuildCounter()
                            .Name("porthole_otlp_metrics_families_dropped_total")
                            .Help("OTLP metric families left out of an exposition because a family of the same "
                                  "name and another type is there (the agent's own or a scraped workload's).")
                            .Register(registry)
                            .Add({{"side", "enclave"}, {"reason", "type_conflict"}})),
      series_gauge_(prometheus::BuildGauge()
                        .Name("porthole_otlp_metrics_series")
                        .Help("Series of the workload's OTLP metrics the agent holds (telemetry.metrics.max_series).")
                        .Register(registry)
                        .Add({{"side", "enclave"}})),
      bytes_gauge_(prometheus::BuildGauge()
                       .Name("porthole_otlp_metrics_bytes")
                       .Help("About how much metrics text the held OTLP series make (telemetry.metrics.max_bytes).")
                       .Register(registry)
                       .Add({{"side", "enclave"}})) {
  auto& points = prometheus::BuildCounter()
                     .Name("porthole_otlp_metrics_points_total")
                     .Help("Data points of the workload's OTLP metrics, by what became of them.")
                     .Register(registry);
  for (std::size_t r = 0; r < points_.size(); ++r) {
    points_[r] = &points.Add({{"side", "enclave"}, {"result", std::string(to_string(static_cast<Result>(r)))}});
  }
}

OtlpMetricsStore::Outcome OtlpMetricsStore::ingest(const telemetry::MetricsBatch& batch) {
  auto conversion = telemetry::convert_metrics(batch, policy_);
  Tally tally{};
  tally[at(Result::RejectedInvalid)] = conversion.rejected[static_cast<std::size_t>(telemetry::PointRejection::Invalid)];
  tally[at(Result::RejectedReservedName)] =
      conversion.rejected[static_cast<std::size_t>(telemetry::PointRejection::ReservedName)];
  tally[at(Result::RejectedTypeConflict)] =
      conversion.rejected[static_cast<std::size_t>(telemetry::PointRejection::TypeConflict)];
  tally[at(Result::DroppedNoValue)] = conversion.no_recorded_value;

  // The policy, on target_info apart: what it removes there is not a data point of the workload.
  std::vector<MetricFamily> info;
  if (auto it = std::find_if(conversion.families.begin(), conversion.families.end(),
                             [](const MetricFamily& f) { return f.name == kTargetInfo; });
      it != conversion.families.end()) {
    info.push_back(std::move(*it));
    conversion.families.erase(it);
  }
  const std::size_t before = series_in(conversion.families);
  telemetry::PolicyCounts counts = telemetry::apply_policy(policy_, conversion.families);
  const std::size_t capped = counts.get(telemetry::PolicyKind::MetricSeries, telemetry::PolicyReason::SeriesCap);
  tally[at(Result::RejectedSeriesCap)] += capped;
  tally[at(Result::DroppedPolicy)] += before - series_in(conversion.families) - capped;
  counts += telemetry::apply_policy(policy_, info);
  counts += conversion.policy;
  policy_metrics_.record(counts);
  for (auto& f : info) conversion.families.push_back(std::move(f));

  std::string store_error;
  {
    std::lock_guard lock(mu_);
    const auto now = time_.now();
    if (!last_expiry_ || now - *last_expiry_ >= kExpiryInterval) expire(now);
    for (auto& family : conversion.families) {
      for (auto& series : family.metric) {
        const telemetry::PointInfo info_of_point = conversion.info(series);
        const Result r = put(family, std::move(series), info_of_point, now);
        if (info_of_point.synthetic) continue;
        ++tally[at(r)];
        if (r == Result::RejectedInvalid && store_error.empty()) {
          store_error = "family '" + family.name + "': its deltas add up to more than " +
                        std::to_string(telemetry::kMaxMetricBuckets) + " buckets";
        }
      }
    }
    series_gauge_.Set(static_cast<double>(series_count_));
    bytes_gauge_.Set(static_cast<double>(bytes_));
  }

  Outcome outcome;
  outcome.offered = conversion.offered;
  std::uint64_t not_accepted = 0;
  for (std::size_t r = 0; r < tally.size(); ++r) not_accepted += r == at(Result::Accepted) ? 0 : tally[r];
  tally[at(Result::Accepted)] = conversion.offered - std::min<std::uint64_t>(not_accepted, conversion.offered);
  for (std::size_t r = 0; r < tally.size(); ++r) {
    if (tally[r] > 0) points_[r]->Increment(static_cast<double>(tally[r]));
  }
  for (Result r : {Result::RejectedInvalid, Result::RejectedReservedName, Result::RejectedTypeConflict,
                   Result::RejectedSeriesCap, Result::RejectedBytesCap}) {
    outcome.rejected += tally[at(r)];
  }
  if (outcome.rejected > 0) {
    std::string why;
    auto add = [&](Result r, const std::string& text) {
      if (tally[at(r)] == 0) return;
      why += (why.empty() ? "" : ", ") + std::to_string(tally[at(r)]) + " " + text;
    };
    add(Result::RejectedInvalid, "invalid");
    add(Result::RejectedReservedName, "with a reserved name");
    add(Result::RejectedTypeConflict, "conflicting with the type of a metric of the same name");
    add(Result::RejectedSeriesCap, "beyond the series caps (telemetry.metrics.max_series " +
                                       std::to_string(config_.max_series) + ", telemetry.policy.max_series_per_family " +
                                       std::to_string(policy_.max_series_per_family) + ")");
    add(Result::RejectedBytesCap, "beyond telemetry.metrics.max_bytes (" + std::to_string(config_.max_bytes) + ")");
    outcome.message = std::to_string(outcome.rejected) + " of " + std::to_string(outcome.offered) +
                      " data points rejected: " + why;
    const std::string& first = conversion.first_error.empty() ? store_error : conversion.first_error;
    if (!first.empty()) outcome.message += "; first: " + first;
    std::uint64_t warn = 0;
    {
      std::lock_guard lock(mu_);
      warn = refused_warnings_.add(outcome.rejected, time_.now());
    }
    if (warn > 0) log_->warn("otlp metrics: {} data points refused since the last warning; latest: {}", warn, outcome.message);
  }
  return outcome;
}

OtlpMetricsStore::Result OtlpMetricsStore::put(const MetricFamily& family, ClientMetric&& series,
                                               const telemetry::PointInfo& info, MonoTime now) {
  auto [it, inserted] = families_.try_emplace(family.name);
  Family& stored = it->second;
  if (inserted) {
    stored.type = family.type;
  } else if (stored.type != family.type) {
    return Result::RejectedTypeConflict;
  }
  if (!family.help.empty()) stored.help = family.help;
  series.timestamp_ms = 0;  // the exporter convention: Prometheus stamps samples itself
  if (auto s = stored.series.find(series.label); s != stored.series.end()) {
    Series& existing = s->second;
    if (info.delta) {
      if (info.time_unix_nano != 0 && info.start_time_unix_nano == existing.delta_start &&
          info.time_unix_nano == existing.delta_end) {
        return Result::DroppedDuplicate;
      }
      if (!telemetry::accumulate(family.type, existing.metric, series)) return Result::RejectedInvalid;
      existing.delta_start = info.start_time_unix_nano;
      existing.delta_end = info.time_unix_nano;
    } else {
      existing.metric = std::move(series);
    }
    const std::size_t now_bytes = telemetry::exposition_bytes(family.name, family.type, existing.metric);
    bytes_ = bytes_ - existing.bytes + now_bytes;
    existing.bytes = now_bytes;
    existing.updated = now;
    return Result::Accepted;
  }
  const std::size_t bytes = telemetry::exposition_bytes(family.name, family.type, series);
  Result refused = Result::Accepted;
  if (series_count_ >= config_.max_series || stored.series.size() >= policy_.max_series_per_family) {
    refused = Result::RejectedSeriesCap;
  } else if (bytes_ + bytes > config_.max_bytes) {
    refused = Result::RejectedBytesCap;
  }
  if (refused != Result::Accepted) {
    if (stored.series.empty()) families_.erase(it);
    return refused;
  }
  auto labels = series.label;
  Series& fresh = stored.series[std::move(labels)];
  fresh.metric = std::move(series);
  fresh.updated = now;
  fresh.bytes = bytes;
  if (info.delta) {
    fresh.delta_start = info.start_time_unix_nano;
    fresh.delta_end = info.time_unix_nano;
  }
  ++series_count_;
  bytes_ += bytes;
  return Result::Accepted;
}

void OtlpMetricsStore::expire(MonoTime now) {
  last_expiry_ = now;
  std::size_t removed = 0;
  for (auto f = families_.begin(); f != families_.end();) {
    auto& series = f->second.series;
    for (auto s = series.begin(); s != series.end();) {
      if (now - s->second.updated < config_.staleness) {
        ++s;
        continue;
      }
      bytes_ -= s->second.bytes;
      s = series.erase(s);
      ++removed;
    }
    f = series.empty() ? families_.erase(f) : std::next(f);
  }
  if (removed == 0) return;
  series_count_ -= removed;
  removed_stale_.Increment(static_cast<double>(removed));
  series_gauge_.Set(static_cast<double>(series_count_));
  bytes_gauge_.Set(static_cast<double>(bytes_));
  log_->info("otlp metrics: removed {} series not updated for {} (telemetry.metrics.staleness)", removed,
             format_duration(config_.staleness));
}

void OtlpMetricsStore::append_to(std::vector<MetricFamily>& families) {
  std::vector<MetricFamily> mine;
  {
    std::lock_guard lock(mu_);
    expire(time_.now());
    mine.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      MetricFamily& out = mine.emplace_back(MetricFamily{name, family.help, family.type, {}});
      out.metric.reserve(family.series.size());
      for (const auto& [labels, series] : family.series) out.metric.push_back(series.metric);
    }
  }
  const auto conflicts = telemetry::merge_families(families, std::move(mine));
  if (conflicts.empty()) return;
  families_dropped_.Increment(static_cast<double>(conflicts.size()));
  std::lock_guard lock(mu_);
  for (const auto& name : conflicts) {
    if (conflicts_logged_.size() >= kMaxConflictsLogged || !conflicts_logged_.insert(name).second) continue;
    log_->warn("otlp metrics: family '{}' is left out: the agent or a scraped workload serves a family of that name "
               "and another type", name);
  }
}

std::size_t OtlpMetricsStore::series() const {
  std::lock_guard lock(mu_);
  return series_count_;
}

}  // namespace porthole::agent
