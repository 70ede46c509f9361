// The labels of the series made from OTLP data points: attributes as labels, the resource's
// job/instance and target_info attributes, valid UTF-8 values. Private to the conversion
// (otlp_metrics_prometheus.cpp); the rules are in otlp_metrics_prometheus.hpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <prometheus/client_metric.h>
#include <prometheus/metric_type.h>

#include "porthole/telemetry/otlp_metrics.hpp"
#include "porthole/telemetry/telemetry_policy.hpp"

namespace porthole::telemetry::metrics_detail {

using Labels = std::vector<prometheus::ClientMetric::Label>;

// `text` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD: the
// sidecar's parser refuses label values and HELP text that are not UTF-8.
std::string valid_utf8(std::string_view text);

struct ResourceLabels {
  Labels identity;         // job and instance, those that are not empty
  MetricAttributes info;   // the other attributes the policy allows: target_info's labels
};
// Attributes the policy's resource_attributes do not allow are counted in `counts` and left out,
// service.name, service.namespace and service.instance.id too.
ResourceLabels resource_labels(const MetricAttributes& resource, const TelemetryPolicy& policy, PolicyCounts& counts);

// `attributes` as labels, plus `context` (job, instance, scope), sorted by name. Sets `error` (and
// returns nothing) for a name longer than kMaxNameBytes or more than kMaxSeriesLabels labels.
Labels series_labels(const MetricAttributes& attributes, const Labels& context, prometheus::MetricType type,
                     std::string& error);

}  // namespace porthole::telemetry::metrics_detail
