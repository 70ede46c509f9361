// "Where did the time go": histograms scraped from Prometheus /metrics endpoints (the sidecar's
// admin server, which also carries the agent's metrics with side="enclave"; a workload's own
// /metrics) before the run's first connection and after the run; the report shows each
// histogram's change over the run next to the client-side latency.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "report.hpp"

namespace porthole::loadtest {

// The histogram families the breakdown knows, with the component each belongs to.
//   porthole_relay_setup_duration_seconds, porthole_relay_connection_duration_seconds
//     side="parent" -> "sidecar relay (parent)", side="enclave" -> "agent (enclave)"
//   demo_request_duration_seconds -> "workload"
// Other histograms are ignored. Series with no new observations are left out.
void add_breakdown(const std::string& before_text, const std::string& after_text, const std::string& source,
                   Breakdown& out);

// GET of an http://HOST:PORT/path URL (numeric host or localhost), the body if 200.
struct FetchResult {
  std::optional<std::string> body;
  std::string error;
};
FetchResult fetch_http(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace porthole::loadtest
