// One bounded HTTP/1.1 GET of a Prometheus endpoint inside the enclave: connect, send, read the
// whole response under one deadline, at most max_bytes of body, no redirects followed, no
// keep-alive (a scrape every few seconds does not need one). The WorkloadScraper's transport.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "porthole/agent/workload_config.hpp"
#include "porthole/common/time.hpp"

namespace porthole::agent {

struct ScrapeResponse {
  // "" when the body is here; else the reason, one of: connect, timeout, read, http_status,
  // too_large (the metric label values of porthole_workload_scrape_errors_total).
  std::string failure;
  std::string detail;  // for the log line
  unsigned status = 0;
  std::string body;
};

// `done` runs once, on `executor`, never from inside this call.
void fetch_metrics(boost::asio::any_io_executor executor, TimeSource& time, const ScrapeTargetConfig& target,
                   std::uint64_t max_bytes, std::function<void(ScrapeResponse)> done);

}  // namespace porthole::agent
