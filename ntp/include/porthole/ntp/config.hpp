// The `ntp:` sections of both binaries' configurations.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "porthole/common/config_reader.hpp"

namespace porthole::ntp {

struct SidecarNtpConfig {
  bool enabled = true;
  std::vector<std::string> upstreams{"169.254.169.123:123"};  // the AWS Time Sync endpoint
  Duration request_timeout = std::chrono::seconds(2);
  std::int64_t max_requests_per_second = 32;
  std::int64_t max_outstanding = 64;
  std::int64_t failover_after = 3;
  bool operator==(const SidecarNtpConfig&) const = default;
};

struct ChronydConfig {
  bool run = false;
  std::string path = "/usr/sbin/chronyd";
  std::string chronyc_path = "/usr/bin/chronyc";
  bool adjust_clock = true;
  std::string runtime_dir = "/run/porthole/chrony";
  std::string config_template = "/etc/porthole/chrony.conf.in";
  bool operator==(const ChronydConfig&) const = default;
};

struct AgentNtpConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:123";
  std::int64_t max_requests_per_second = 16;
  std::int64_t max_outstanding = 64;
  Duration request_timeout = std::chrono::seconds(5);
  Duration measure_interval = std::chrono::seconds(16);  // 0 = off
  Duration max_offset = std::chrono::milliseconds(100);
  Duration sync_timeout = std::chrono::minutes(1);
  std::string chrony_socket;  // read `chronyc tracking` from here; empty = don't
  ChronydConfig chronyd;
  bool operator==(const AgentNtpConfig&) const = default;
};

SidecarNtpConfig read_sidecar_ntp_config(ConfigNode node);
AgentNtpConfig read_agent_ntp_config(ConfigNode node);


}  // namespace porthole::ntp
