// The agent's `workload` (supervising the workload process) and `workload_metrics` (scraping its
// Prometheus endpoints) config sections. Kept apart from config.cpp because both are optional
// features with enough keys of their own; see docs/workload.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "porthole/common/backoff.hpp"
#include "porthole/common/config_reader.hpp"

namespace porthole::agent {

// One Prometheus endpoint inside the enclave. Only http:// to an IP address (or `localhost`):
// the enclave has no DNS worth asking, and TLS to a process on the same loopback adds nothing.
struct ScrapeTargetConfig {
  std::string name;            // the `target` label
  std::string url;             // as written
  std::string host;            // parsed from url: an IP address
  std::uint16_t port = 0;
  std::string path = "/metrics";
  Duration interval = std::chrono::seconds(15);
  Duration timeout = std::chrono::seconds(5);
  bool operator==(const ScrapeTargetConfig&) const = default;
};

struct WorkloadMetricsConfig {
  std::vector<ScrapeTargetConfig> targets;
  // A response body larger than this fails the scrape (reason too_large).
  std::uint64_t max_bytes = 1 << 20;
  // A target's last good snapshot is served for at most this long after it was taken.
  Duration max_staleness = std::chrono::minutes(1);
  bool operator==(const WorkloadMetricsConfig&) const = default;
};

enum class RestartPolicy { Never, OnFailure, Always };

struct WorkloadConfig {
  std::vector<std::string> command;           // empty: the agent supervises nothing
  std::map<std::string, std::string> env;     // added to (and overriding) the agent's environment
  std::string working_dir;                    // "" = the agent's
  RestartPolicy restart = RestartPolicy::OnFailure;
  BackoffPolicy restart_backoff{std::chrono::seconds(1), std::chrono::minutes(1), 2.0};
  Duration stop_timeout = std::chrono::seconds(10);  // SIGTERM, then SIGKILL after this
  std::string service_name = "workload";      // service.name of the captured log records
  std::uint64_t max_line_bytes = 16 * 1024;   // longer lines are split (and counted)
  bool operator==(const WorkloadConfig&) const;
};

// Parses "http://IP:PORT/path" (or localhost); throws ConfigError with what to write instead.
void parse_scrape_url(const std::string& url, std::string& host, std::uint16_t& port, std::string& path);

WorkloadMetricsConfig read_workload_metrics_config(ConfigNode node);
WorkloadConfig read_workload_config(ConfigNode node);
std::string_view to_string(RestartPolicy policy);

}  // namespace porthole::agent
