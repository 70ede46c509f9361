#include "otlp_metrics_labels.hpp"

#include <algorithm>

#include "porthole/telemetry/otlp_metrics_prometheus.hpp"
#include "prom_text_lexer.hpp"

namespace porthole::telemetry::metrics_detail {
namespace {

// Labels set by the conversion, the agent and the sidecar: an attribute of the same name would
// pose as them, so it is kept as exported_<name> (Prometheus' honor_labels: false convention).
constexpr std::string_view kOwnLabels[] = {"job", "instance", "otel_scope_name", "otel_scope_version",
                                           "enclave", "side", "target"};

bool is_own(std::string_view name, prometheus::MetricType type) {
  if (std::find(std::begin(kOwnLabels), std::end(kOwnLabels), name) != std::end(kOwnLabels)) return true;
  return (type == prometheus::MetricType::Histogram && name == "le") ||
         (type == prometheus::MetricType::Summary && name == "quantile");
}

// Length of the UTF-8 sequence a lead byte starts (1 for ASCII), 0 for a byte that starts none.
std::size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 0;
}

}  // namespace

std::string valid_utf8(std::string_view text) {
  if (detail::is_valid_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = sequence_length(static_cast<unsigned char>(text[i]));
    if (n != 0 && i + n <= text.size() && detail::is_valid_utf8(text.substr(i, n))) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

ResourceLabels resource_labels(const MetricAttributes& resource, const TelemetryPolicy& policy, PolicyCounts& counts) {
  ResourceLabels out;
  const std::string *name = nullptr, *name_space = nullptr, *instance = nullptr;
  for (const auto& a : resource) {
    if (!policy.resource_attributes.allows(a.key)) {
      ++counts.at(PolicyKind::ResourceAttribute, PolicyReason::NotAllowed);
    } else if (a.key == "service.name") {
      if (name == nullptr) name = &a.value;
    } else if (a.key == "service.namespace") {
      if (name_space == nullptr) name_space = &a.value;
    } else if (a.key == "service.instance.id") {
      if (instance == nullptr) instance = &a.value;
    } else {
      out.info.push_back(a);
    }
  }
  std::string job = name ? *name : std::string();
  if (name_space != nullptr && !name_space->empty()) job = *name_space + "/" + job;
  if (!job.empty()) out.identity.push_back({"job", valid_utf8(job)});
  if (instance != nullptr && !instance->empty()) out.identity.push_back({"instance", valid_utf8(*instance)});
  return out;
}

Labels series_labels(const MetricAttributes& attributes, const Labels& context, prometheus::MetricType type,
                     std::string& error) {
  struct Named {
    std::string name;
    const MetricAttribute* attribute;
  };
  std::vector<Named> named;
  named.reserve(attributes.size());
  for (const auto& a : attributes) {
    std::string name = prometheus_label_name(a.key);
    if (name.empty()) continue;
    if (name.size() > kMaxNameBytes) {
      error = "an attribute name is longer than " + std::to_string(kMaxNameBytes) + " bytes";
      return {};
    }
    if (is_own(name, type)) name = "exported_" + name;
    named.push_back({std::move(name), &a});
  }
  // Attributes that became the same label: values joined with ';' in the order of their keys.
  std::sort(named.begin(), named.end(), [](const Named& x, const Named& y) {
    return x.name != y.name ? x.name < y.name : x.attribute->key < y.attribute->key;
  });
  Labels labels = context;
  for (std::size_t i = 0; i < named.size();) {
    std::string value = named[i].attribute->value;
    std::size_t j = i + 1;
    for (; j < named.size() && named[j].name == named[i].name; ++j) value += ";" + named[j].attribute->value;
    if (!value.empty()) labels.push_back({named[i].name, valid_utf8(value)});
    i = j;
  }
  if (labels.size() > kMaxSeriesLabels) {
    error = std::to_string(labels.size()) + " labels; at most " + std::to_string(kMaxSeriesLabels);
    return {};
  }
  std::sort(labels.begin(), labels.end(), [](const auto& x, const auto& y) { return x.name < y.name; });
  return labels;
}

}  // namespace porthole::telemetry::metrics_detail
