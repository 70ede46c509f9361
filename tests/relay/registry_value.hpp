// Reads one series back from a prometheus::Registry in tests.
#pragma once

#include <string>

#include <prometheus/registry.h>

namespace porthole::testing {

// The value of the first series of `name` with label `label`="`value`" (a counter's or a
// gauge's), or -1 when there is none.
inline double registry_value(prometheus::Registry& registry, const std::string& name, const std::string& label,
                             const std::string& value) {
  for (const auto& f : registry.Collect()) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) {
        if (l.name == label && l.value == value) {
          return f.type == prometheus::MetricType::Gauge ? m.gauge.value : m.counter.value;
        }
      }
    }
  }
  return -1;
}

}  // namespace porthole::testing
