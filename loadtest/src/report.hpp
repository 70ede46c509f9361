// A run's report: what was asked (ReportConfig), what happened (RunResult) and, when sidecar
// or workload metrics were scraped, where the time went (Breakdown). The JSON form is lossless
// (histograms as their non-empty buckets), so `compare` and later tools read back exactly what
// the run measured.
#pragma once

#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "load_runner.hpp"

namespace porthole::loadtest {

inline constexpr const char* kReportFormat = "porthole-loadtest/1";

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
};

ReportConfig describe(const RunConfig& config, const std::string& scenario_label);

// One histogram family scraped from a /metrics endpoint, as the delta over the run.
struct BreakdownEntry {
  std::string component;  // "sidecar relay (parent)", "agent (enclave)", "workload"
  std::string metric;     // e.g. demo_request_duration_seconds{path="/echo"}
  std::string source;     // the scraped URL
  double count = 0;       // observations during the run
  double mean_seconds = 0;
  double p50_seconds = 0;  // from the buckets (linear interpolation, like histogram_quantile)
  double p99_seconds = 0;
};

struct Breakdown {
  std::vector<BreakdownEntry> entries;
  std::vector<std::string> notes;  // e.g. scrape failures, "spans not available yet"
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

boost::json::value report_to_json(const Report& report);
Report report_from_json(const boost::json::value& v);  // throws std::runtime_error naming the field
Report load_report_file(const std::string& path);
std::string to_pretty_json(const boost::json::value& v);

// The human summary printed after a run.
std::string format_summary(const Report& report);

}  // namespace porthole::loadtest
