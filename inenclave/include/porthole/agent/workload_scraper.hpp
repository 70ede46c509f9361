// Scrapes the workload's Prometheus endpoints inside the enclave and keeps, per target, the last
// good snapshot after the telemetry policy: what the agent adds to its own metrics text, so the
// workload's families reach the sidecar's /metrics (keeping their names, gaining `target` here
// and `enclave` at the sidecar). Exporter conventions: timestamps are dropped (the scraper
// stamps samples), and per target there is porthole_workload_up{target} like Prometheus' `up`.
//
// Everything runs on the agent's io_context: one scrape in flight per target, each bounded in
// time (timeout) and size (max_bytes); the body is untrusted-ish input parsed by the strict
// parser (bad lines skipped and counted). A failed scrape keeps the last good snapshot until it
// is max_staleness old. Workload families named porthole_* would pose as the agent's own and are
// dropped (counted, reason name_clash).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/agent/scrape_client.hpp"
#include "porthole/agent/workload_config.hpp"
#include "porthole/common/time.hpp"
#include "porthole/telemetry/telemetry_policy.hpp"

namespace porthole::agent {

class WorkloadScraper {
 public:
  // `policy_metrics` may be null (then what the policy removes is not counted there).
  WorkloadScraper(boost::asio::any_io_executor executor, TimeSource& time, const WorkloadMetricsConfig& config,
                  const telemetry::TelemetryPolicy& policy, prometheus::Registry& registry,
                  telemetry::PolicyMetrics* policy_metrics);
  ~WorkloadScraper();
  WorkloadScraper(const WorkloadScraper&) = delete;
  WorkloadScraper& operator=(const WorkloadScraper&) = delete;

  void start();  // the first scrape of every target at once, then every interval
  void stop();

  // The workload's families (every target's fresh snapshot) merged into `families`, the
  // agent's own, for one exposition. A workload family whose type differs from the agent's
  // family of the same name is dropped and counted (reason type_conflict).
  void append_to(std::vector<prometheus::MetricFamily>& families);

  // For tests: scrapes completed (ok or not) per target index.
  std::uint64_t completed_scrapes(std::size_t target) const { return targets_.at(target)->completed; }

 private:
  struct Target {
    const ScrapeTargetConfig* config = nullptr;
    std::unique_ptr<Timer> timer;
    bool in_flight = false;
    std::uint64_t completed = 0;
    std::optional<std::vector<prometheus::MetricFamily>> snapshot;
    MonoTime taken;
    bool stale_logged = false;
    bool clash_logged = false;
    std::string last_failure;  // logs a failure when it starts or changes, not every interval
    prometheus::Gauge* up = nullptr;
    prometheus::Gauge* duration = nullptr;
    prometheus::Gauge* samples = nullptr;
    prometheus::Gauge* age = nullptr;
  };

  void schedule(Target& target, Duration after);
  void scrape(Target& target);
  void on_response(Target& target, ScrapeResponse response, MonoTime started);
  void fail(Target& target, const std::string& reason, const std::string& detail);
  std::vector<prometheus::MetricFamily> refine(Target& target, std::vector<prometheus::MetricFamily> families);
  void count_dropped(const Target& target, const char* reason, double n = 1);

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  const WorkloadMetricsConfig& config_;
  const telemetry::TelemetryPolicy& policy_;
  telemetry::PolicyMetrics* policy_metrics_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool stopped_ = true;
  std::vector<std::unique_ptr<Target>> targets_;
  prometheus::Family<prometheus::Gauge>& up_family_;
  prometheus::Family<prometheus::Gauge>& duration_family_;
  prometheus::Family<prometheus::Gauge>& samples_family_;
  prometheus::Family<prometheus::Gauge>& age_family_;
  prometheus::Family<prometheus::Counter>& errors_family_;
  prometheus::Family<prometheus::Counter>& dropped_family_;
};

// Labels of every workload series: the policy-filtered labels, then the workload's own `target`,
// `enclave` and `side` renamed exported_* (Prometheus' honor_labels: false convention), then
// target="<name>". Exposed for tests.
void label_workload_series(std::vector<prometheus::MetricFamily>& families, const std::string& target);

}  // namespace porthole::agent
