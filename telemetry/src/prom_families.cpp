// Relabelling and merging of parsed families, ahead of re-serialisation.
#include <algorithm>
#include <iterator>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "porthole/telemetry/prom_text.hpp"

namespace porthole::telemetry {
namespace {

using Label = prometheus::ClientMetric::Label;

void apply_labels(std::vector<Label>& target, const std::vector<Label>& labels) {
  for (const auto& label : labels) {
    const auto it = std::find_if(target.begin(), target.end(),
                                 [&](const Label& l) { return l.name == label.name; });
    if (it != target.end()) {
      it->value = label.value;
    } else {
      target.push_back(label);
    }
  }
  std::sort(target.begin(), target.end(),
            [](const Label& a, const Label& b) { return a.name < b.name; });
}

// Keeps the first of each label set, in order; returns how many were removed.
std::size_t drop_duplicate_series(prometheus::MetricFamily& family) {
  auto& metrics = family.metric;
  std::vector<std::size_t> order(metrics.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return metrics[a].label < metrics[b].label;
  });
  std::vector<bool> drop(metrics.size(), false);
  std::size_t dropped = 0;
  for (std::size_t i = 1; i < order.size(); ++i) {
    if (metrics[order[i]].label == metrics[order[i - 1]].label) {
      drop[order[i]] = true;
      ++dropped;
    }
  }
  if (dropped == 0) return 0;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    if (drop[i]) continue;
    if (kept != i) metrics[kept] = std::move(metrics[i]);
    ++kept;
  }
  metrics.resize(kept);
  return dropped;
}

}  // namespace

std::size_t set_labels(std::vector<prometheus::MetricFamily>& families,
                       const std::vector<Label>& labels) {
  std::size_t dropped = 0;
  for (auto& family : families) {
    for (auto& metric : family.metric) apply_labels(metric.label, labels);
    dropped += drop_duplicate_series(family);
  }
  return dropped;
}

std::vector<std::string> merge_families(std::vector<prometheus::MetricFamily>& base,
                                        std::vector<prometheus::MetricFamily>&& extra) {
  std::map<std::string, std::size_t, std::less<>> by_name;
  for (std::size_t i = 0; i < base.size(); ++i) by_name.emplace(base[i].name, i);
  std::vector<std::string> dropped;
  for (auto& family : extra) {
    const auto it = by_name.find(family.name);
    if (it == by_name.end()) {
      by_name.emplace(family.name, base.size());
      base.push_back(std::move(family));
      continue;
    }
    auto& target = base[it->second];
    if (target.type != family.type) {
      dropped.push_back(std::move(family.name));
      continue;
    }
    if (target.help.empty()) target.help = std::move(family.help);
    target.metric.insert(target.metric.end(), std::make_move_iterator(family.metric.begin()),
                         std::make_move_iterator(family.metric.end()));
  }
  extra.clear();
  return dropped;
}

}  // namespace porthole::telemetry
