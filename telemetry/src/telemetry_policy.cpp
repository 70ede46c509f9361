// Applying the telemetry policy to span batches, log batches and metric families.
#include "porthole/telemetry/telemetry_policy.hpp"

#include <algorithm>
#include <functional>
#include <numeric>
#include <unordered_map>

namespace porthole::telemetry {

bool glob_match(std::string_view pattern, std::string_view text) {
  // Greedy with backtracking to the last '*': linear in practice, O(n*m) worst case, and the
  // patterns are short and come from the (trusted) config.
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool KeyFilter::allows(std::string_view key) const {
  const auto matches = [&](const std::string& pattern) { return glob_match(pattern, key); };
  return std::any_of(allow.begin(), allow.end(), matches) && std::none_of(deny.begin(), deny.end(), matches);
}

std::string_view to_string(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::SpanAttribute: return "span_attribute";
    case PolicyKind::ResourceAttribute: return "resource_attribute";
    case PolicyKind::LogAttribute: return "log_attribute";
    case PolicyKind::LogBody: return "log_body";
    case PolicyKind::SpanStatusMessage: return "span_status_message";
    case PolicyKind::MetricFamily: return "metric_family";
    case PolicyKind::MetricLabel: return "metric_label";
    case PolicyKind::MetricSeries: return "metric_series";
    case PolicyKind::kCount: break;
  }
  return "unknown";
}

std::string_view to_string(PolicyReason reason) {
  switch (reason) {
    case PolicyReason::NotAllowed: return "not_allowed";
    case PolicyReason::Truncated: return "truncated";
    case PolicyReason::SeriesCap: return "series_cap";
    case PolicyReason::Duplicate: return "duplicate";
    case PolicyReason::kCount: break;
  }
  return "unknown";
}

std::uint64_t PolicyCounts::total() const {
  std::uint64_t n = 0;
  for (const auto& row : counts) n = std::accumulate(row.begin(), row.end(), n);
  return n;
}

PolicyCounts& PolicyCounts::operator+=(const PolicyCounts& other) {
  for (std::size_t k = 0; k < counts.size(); ++k) {
    for (std::size_t r = 0; r < counts[k].size(); ++r) counts[k][r] += other.counts[k][r];
  }
  return *this;
}

namespace {

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
bool truncate_utf8(std::string& s, std::size_t max) {
  if (s.size() <= max) return false;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return true;
}

// Truncates every string and bytes value inside `v`; returns how many were truncated.
std::uint64_t truncate_value(AnyValue& v, std::size_t max) {
  std::uint64_t n = 0;
  if (auto* s = std::get_if<std::string>(&v.value)) {
    n += truncate_utf8(*s, max) ? 1 : 0;
  } else if (auto* b = std::get_if<BytesValue>(&v.value)) {
    if (b->bytes.size() > max) {
      b->bytes.resize(max);
      ++n;
    }
  } else if (auto* a = std::get_if<ArrayValue>(&v.value)) {
    for (auto& item : a->values) n += truncate_value(item, max);
  } else if (auto* kv = std::get_if<KeyValueList>(&v.value)) {
    for (auto& item : kv->values) n += truncate_value(item.value, max);
  }
  return n;
}

// A KeyFilter's verdicts for the keys seen while one batch is filtered. A batch repeats the same
// few keys thousands of times and a verdict costs a glob match per pattern (tens of them by
// default): remembering them made the policy several times cheaper in bench/telemetry. Bounded,
// so that a batch of all-distinct keys costs no more memory than a few hundred entries.
class CachedFilter {
 public:
  explicit CachedFilter(const KeyFilter& filter) : filter_(filter) {}
  bool allows(std::string_view key) {
    if (auto it = verdicts_.find(key); it != verdicts_.end()) return it->second;
    const bool allowed = filter_.allows(key);
    if (verdicts_.size() < kMaxKeys) verdicts_.emplace(std::string(key), allowed);
    return allowed;
  }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  static constexpr std::size_t kMaxKeys = 256;
  const KeyFilter& filter_;
  std::unordered_map<std::string, bool, Hash, std::equal_to<>> verdicts_;
};

void filter_attributes(CachedFilter& filter, std::size_t max_value_bytes, PolicyKind kind, Attributes& attributes,
                       std::uint32_t& dropped_count, PolicyCounts& counts) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < attributes.size(); ++i) {
    if (!filter.allows(attributes[i].key)) continue;
    if (kept != i) attributes[kept] = std::move(attributes[i]);
    counts.at(kind, PolicyReason::Truncated) += truncate_value(attributes[kept].value, max_value_bytes);
    ++kept;
  }
  const std::size_t removed = attributes.size() - kept;
  attributes.resize(kept);
  counts.at(kind, PolicyReason::NotAllowed) += removed;
  dropped_count += static_cast<std::uint32_t>(std::min<std::size_t>(removed, UINT32_MAX - dropped_count));
}

void apply_origin(const TelemetryPolicy& policy, CachedFilter& filter, Resource& resource,
                  InstrumentationScope& scope, PolicyCounts& counts) {
  filter_attributes(filter, policy.max_value_bytes, PolicyKind::ResourceAttribute, resource.attributes,
                    resource.dropped_attributes_count, counts);
  filter_attributes(filter, policy.max_value_bytes, PolicyKind::ResourceAttribute, scope.attributes,
                    scope.dropped_attributes_count, counts);
}

}  // namespace

PolicyCounts apply_policy(const TelemetryPolicy& policy, TraceBatch& batch) {
  PolicyCounts counts;
  const auto max = policy.max_value_bytes;
  CachedFilter resource_filter(policy.resource_attributes), span_filter(policy.span_attributes);
  for (auto& rs : batch.resource_spans) {
    InstrumentationScope no_scope;
    apply_origin(policy, resource_filter, rs.resource, no_scope, counts);
    for (auto& ss : rs.scope_spans) {
      Resource no_resource;
      apply_origin(policy, resource_filter, no_resource, ss.scope, counts);
      for (auto& span : ss.spans) {
        filter_attributes(span_filter, max, PolicyKind::SpanAttribute, span.attributes,
                          span.dropped_attributes_count, counts);
        for (auto& event : span.events) {
          filter_attributes(span_filter, max, PolicyKind::SpanAttribute, event.attributes,
                            event.dropped_attributes_count, counts);
        }
        for (auto& link : span.links) {
          filter_attributes(span_filter, max, PolicyKind::SpanAttribute, link.attributes,
                            link.dropped_attributes_count, counts);
        }
        if (!span.status.message.empty()) {
          if (!policy.span_status_messages) {
            span.status.message.clear();
            ++counts.at(PolicyKind::SpanStatusMessage, PolicyReason::NotAllowed);
          } else if (truncate_utf8(span.status.message, max)) {
            ++counts.at(PolicyKind::SpanStatusMessage, PolicyReason::Truncated);
          }
        }
      }
    }
  }
  return counts;
}

PolicyCounts apply_policy(const TelemetryPolicy& policy, LogBatch& batch) {
  PolicyCounts counts;
  const auto max = policy.max_value_bytes;
  CachedFilter resource_filter(policy.resource_attributes), log_filter(policy.log_attributes);
  for (auto& rl : batch.resource_logs) {
    InstrumentationScope no_scope;
    apply_origin(policy, resource_filter, rl.resource, no_scope, counts);
    for (auto& sl : rl.scope_logs) {
      Resource no_resource;
      apply_origin(policy, resource_filter, no_resource, sl.scope, counts);
      for (auto& record : sl.log_records) {
        filter_attributes(log_filter, max, PolicyKind::LogAttribute, record.attributes,
                          record.dropped_attributes_count, counts);
        if (record.body.empty()) continue;
        if (!policy.log_bodies) {
          record.body = AnyValue{};
          ++counts.at(PolicyKind::LogBody, PolicyReason::NotAllowed);
        } else {
          counts.at(PolicyKind::LogBody, PolicyReason::Truncated) += truncate_value(record.body, max);
        }
      }
    }
  }
  return counts;
}

PolicyCounts apply_policy(const TelemetryPolicy& policy, std::vector<prometheus::MetricFamily>& families) {
  PolicyCounts counts;
  CachedFilter label_filter(policy.metric_labels);
  std::erase_if(families, [&](const prometheus::MetricFamily& f) {
    if (policy.metric_names.allows(f.name)) return false;
    ++counts.at(PolicyKind::MetricFamily, PolicyReason::NotAllowed);
    return true;
  });
  for (auto& family : families) {
    for (auto& metric : family.metric) {
      std::erase_if(metric.label, [&](const prometheus::ClientMetric::Label& l) {
        if (label_filter.allows(l.name)) return false;
        ++counts.at(PolicyKind::MetricLabel, PolicyReason::NotAllowed);
        return true;
      });
      for (auto& label : metric.label) {
        if (truncate_utf8(label.value, policy.max_value_bytes)) ++counts.at(PolicyKind::MetricLabel, PolicyReason::Truncated);
      }
    }
    // Removing labels can make series identical, which Prometheus rejects: keep the first.
    auto& metrics = family.metric;
    std::vector<std::size_t> order(metrics.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return metrics[a].label < metrics[b].label; });
    std::vector<bool> keep(metrics.size(), true);
    for (std::size_t i = 1; i < order.size(); ++i) {
      if (metrics[order[i]].label == metrics[order[i - 1]].label) {
        keep[order[i]] = false;
        ++counts.at(PolicyKind::MetricSeries, PolicyReason::Duplicate);
      }
    }
    std::size_t kept = 0;
    for (std::size_t i = 0; i < metrics.size(); ++i) {
      if (!keep[i]) continue;
      if (kept >= policy.max_series_per_family) {
        ++counts.at(PolicyKind::MetricSeries, PolicyReason::SeriesCap);
        continue;
      }
      if (kept != i) metrics[kept] = std::move(metrics[i]);
      ++kept;
    }
    metrics.resize(kept);
  }
  return counts;
}

}  // namespace porthole::telemetry
