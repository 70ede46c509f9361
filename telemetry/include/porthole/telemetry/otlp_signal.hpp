// The three OTLP signals, each exported to its own collector path (/v1/traces, /v1/logs,
// /v1/metrics) and counted under its own `signal` label.
#pragma once

#include <array>
#include <string_view>

namespace porthole::telemetry {

enum class OtlpSignal { Traces, Logs, Metrics };

inline constexpr std::array<OtlpSignal, 3> kOtlpSignals{OtlpSignal::Traces, OtlpSignal::Logs,
                                                        OtlpSignal::Metrics};

// "traces" | "logs" | "metrics": the label value and the last segment of the OTLP/HTTP path.
constexpr std::string_view to_string(OtlpSignal s) {
  switch (s) {
    case OtlpSignal::Traces: return "traces";
    case OtlpSignal::Logs: return "logs";
    case OtlpSignal::Metrics: return "metrics";
  }
  return "unknown";
}

constexpr std::size_t index_of(OtlpSignal s) { return static_cast<std::size_t>(s); }

}  // namespace porthole::telemetry
