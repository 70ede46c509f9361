// "Where did the time go", per request: histograms scraped from Prometheus /metrics endpoints
// (the sidecar's admin server, which also carries the agent's metrics with side="enclave" and
// the workload's relayed ones; or a workload's own /metrics) right before the run's first
// connection and after its last response, as their change over the run, next to the client's
// service time of the same requests. The per-request histograms:
//   porthole_http_request_duration_seconds (side="enclave")  -> "enclave (agent)": the agent,
//       inside the enclave, from a request's head to the end of its response (routes with
//       protocol: http1; the series of the listener that counted most requests)
//   demo_request_duration_seconds{path}  -> "workload": the handler (every path but /metrics)
// and, per connection, porthole_relay_setup_duration_seconds (side parent / enclave). The split
// of the client's mean: outside the enclave (client - enclave: network, sidecar, vsock), agent
// (enclave - workload), workload.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "latency_histogram.hpp"
#include "report.hpp"

namespace porthole::loadtest {

// Adds the known histograms that changed between two scrapes of `source` to `out.entries`.
void add_breakdown(const std::string& before_text, const std::string& after_text, const std::string& source,
                   Breakdown& out);
// The same with the first scrape already parsed (the end scrape may be taken several times).
void add_breakdown(const std::vector<prometheus::MetricFamily>& before, const std::string& after_text,
                   const std::string& source, Breakdown& out);

// Adds the client's entry (`client`: service time of every request that got a response, warm-up
// included) and the split, with a note when the server-side counts do not match the client's.
void finish_breakdown(const LatencyHistogram& client, Breakdown& out);

// The smallest per-request count among the enclave and workload entries (nullopt: none): the end
// scrape is repeated until it reaches the client's count (a relayed snapshot may lag).
std::optional<double> server_request_count(const Breakdown& b);

// GET of an http://HOST:PORT/path URL (numeric host or localhost), the body if 200.
struct FetchResult {
  std::optional<std::string> body;
  std::string error;
};
FetchResult fetch_http(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace porthole::loadtest
