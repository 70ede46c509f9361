// A run's report: what was asked (ReportConfig), what happened (RunResult) and, when sidecar
// or workload metrics were scraped, where the time went (Breakdown). The JSON form is lossless
// (histograms as their non-empty buckets), so `compare` and later tools read back exactly what
// the run measured.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "load_runner.hpp"

namespace porthole::loadtest {

inline constexpr const char* kReportFormat = "porthole-loadtest/2";

struct ReportConfig {
  std::string url;
  std::string scenario;
  std::string protocol = "http";
  double rate = 0;
  unsigned connections = 0;
  unsigned threads = 0;
  double duration_seconds = 0;  // 0: stopped by request count
  std::uint64_t requests = 0;   // 0: stopped by duration
  double warmup_seconds = 0;
  double jitter = 0;
  double timeout_seconds = 0;
  double late_threshold_seconds = 0;
  std::uint64_t seed = 0;
  bool traceparent = false;
};

ReportConfig describe(const RunConfig& config, const std::string& scenario_label);

// One histogram's change over the run: scraped from a /metrics endpoint before the run's first
// connection and after its last response, or the client's own.
struct BreakdownEntry {
  std::string component;  // "client", "enclave (agent)", "workload", "sidecar relay setup", ...
  std::string metric;     // e.g. porthole_http_request_duration_seconds{listener="web"}
  std::string source;     // the scraped URL, or "porthole-loadtest"
  bool per_request = true;  // false: per connection (relay setup)
  double count = 0;       // observations during the run
  double mean_seconds = 0;  // from _sum / _count
  double p50_seconds = 0;   // from the buckets (linear interpolation, like histogram_quantile)
  double p90_seconds = 0;
  double p99_seconds = 0;
};

// Where a request's time went, from the means of the per-request histograms of the same
// requests: the client's service time = outside + agent + workload.
struct TimeSplit {
  double client_seconds = 0;    // mean client service time (request written -> response read)
  double outside_seconds = 0;   // client - enclave: network, sidecar, vsock (or everything outside the workload)
  double agent_seconds = 0;     // enclave - workload: the agent's relay inside the enclave (0 if no enclave histogram)
  double workload_seconds = 0;  // the workload's handler
  bool has_enclave = false;     // the agent's per-request histogram was there
  bool has_workload = false;    // the workload's handler histogram was there
};

struct Breakdown {
  std::vector<BreakdownEntry> entries;
  std::optional<TimeSplit> split;
  std::vector<std::string> notes;  // e.g. scrape failures, counts that do not match
};

struct Report {
  std::string tool_version;
  ReportConfig config;
  RunResult result;
  Breakdown breakdown;
};

// The percentiles every output lists.
const std::vector<double>& standard_percentiles();

boost::json::value histogram_to_json(const LatencyHistogram& h);
LatencyHistogram histogram_from_json(const boost::json::value& v);  // throws std::runtime_error

boost::json::value breakdown_to_json(const Breakdown& b);
Breakdown breakdown_from_json(const boost::json::value& v);  // throws std::runtime_error naming the field
boost::json::value report_to_json(const Report& report);
Report report_from_json(const boost::json::value& v);  // throws std::runtime_error naming the field
Report load_report_file(const std::string& path);
// --dump-requests: a header line, then one JSON object per request in intended-time order.
std::string requests_to_jsonl(const RunResult& result, unsigned connections, bool traceparent);
std::string to_pretty_json(const boost::json::value& v);

// The human summary printed after a run.
std::string format_summary(const Report& report);
// Its "where the time went" part (empty without a breakdown), and the split in one line.
std::string format_breakdown(const Breakdown& b);
std::string format_split(const TimeSplit& t);

}  // namespace porthole::loadtest
