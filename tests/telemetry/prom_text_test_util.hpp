// Helpers shared by the Prometheus text-format tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "porthole/telemetry/prom_text.hpp"

namespace porthole::telemetry::testing {

// Parses `text` and fails the test if anything was reported.
inline PromParseResult parse_clean(std::string_view text, const PromParseLimits& limits = {}) {
  PromParseResult result = parse_prometheus_text(text, limits);
  for (const auto& error : result.errors) ADD_FAILURE() << "unexpected: " << error.message;
  return result;
}

inline const prometheus::MetricFamily* find_family(const PromParseResult& result,
                                                   std::string_view name) {
  for (const auto& family : result.families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

}  // namespace porthole::telemetry::testing
