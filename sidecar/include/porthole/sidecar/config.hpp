// porthole-sidecar's configuration: defaults, validation and the documented default file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "porthole/common/config_reader.hpp"
#include "porthole/common/logging.hpp"
#include "porthole/ntp/config.hpp"
#include "porthole/relay/control_config.hpp"
#include "porthole/sidecar/telemetry_config.hpp"

namespace porthole::sidecar {

struct AdminConfig {
  std::string listen = "127.0.0.1:9901";  // host:port; port 0 picks a free one
  std::string address_file;               // when set, the bound host:port is written here
  Duration scrape_timeout = std::chrono::seconds(2);
  Duration request_timeout = std::chrono::seconds(10);
  std::int64_t max_connections = 64;
  bool operator==(const AdminConfig&) const = default;
};

struct IngressListenerConfig {
  std::string name;
  std::string listen;  // host:port
  std::int64_t max_connections = 1024;
  bool operator==(const IngressListenerConfig&) const = default;
};

struct IngressConfig {
  std::vector<IngressListenerConfig> listeners;
  Duration connect_timeout = std::chrono::seconds(5);
  Duration idle_timeout = std::chrono::minutes(5);
  std::uint64_t buffer_bytes = 64 * 1024;
  std::int64_t splice_pipes = 1024;  // pipes for splice(2) at once; 0 = copy through buffers
  bool operator==(const IngressConfig&) const = default;
};

struct EgressConfig {
  bool enabled = true;
  std::vector<std::string> allow;
  // The host's own loopback and link-local addresses (the instance metadata service among
  // them) are never reachable from the enclave unless an operator says so.
  std::vector<std::string> deny{"127.0.0.0/8:*", "169.254.0.0/16:*", "[::1]:*", "[fe80::/10]:*"};
  Duration connect_timeout = std::chrono::seconds(5);
  Duration request_timeout = std::chrono::seconds(5);
  Duration idle_timeout = std::chrono::minutes(5);
  std::int64_t max_connections = 1024;
  std::uint64_t buffer_bytes = 64 * 1024;
  std::int64_t splice_pipes = 1024;
  bool operator==(const EgressConfig&) const = default;
};

struct SidecarConfig {
  std::string name = "sidecar";
  std::string enclave_name;  // expected enclave name; empty accepts any
  relay::BoundaryConfig boundary;
  relay::ControlConfig control;
  AdminConfig admin;
  IngressConfig ingress;
  EgressConfig egress;
  ntp::SidecarNtpConfig ntp;
  SidecarTelemetryConfig telemetry;
  LoggingConfig logging;
  Duration drain_timeout = std::chrono::seconds(5);
  bool operator==(const SidecarConfig&) const = default;
};

SidecarConfig read_sidecar_config(const YAML::Node& root, const std::string& source);
SidecarConfig load_sidecar_config(const std::string& path);
// The default configuration as a commented YAML file (what --print-default-config prints).
const std::string& default_sidecar_config_yaml();


}  // namespace porthole::sidecar
