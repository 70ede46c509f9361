// porthole-agent's configuration: defaults, validation and the documented default file.
#pragma once

#include <string>
#include <vector>

#include "porthole/common/config_reader.hpp"
#include "porthole/common/logging.hpp"
#include "porthole/ntp/config.hpp"
#include "porthole/relay/control_config.hpp"
#include "porthole/agent/telemetry_config.hpp"
#include "porthole/agent/workload_config.hpp"

namespace porthole::agent {

struct IngressRouteConfig {
  std::string listener;       // the sidecar listener's name
  std::string target;         // the workload's host:port inside the enclave
  bool proxy_protocol = false;  // pass a PROXY v2 header on to the workload
  // "http1": parse HTTP/1.1 as it passes, record server spans and RED metrics, inject traceparent.
  std::string protocol = "tcp";
  std::vector<std::string> http_routes;  // route templates for http.route, e.g. "/users/{id}"
  std::string service_name;              // service.name of its spans; "" = the listener name
  bool operator==(const IngressRouteConfig&) const = default;
};

struct AgentIngressConfig {
  std::vector<IngressRouteConfig> routes;
  Duration header_timeout = std::chrono::seconds(5);
  Duration connect_timeout = std::chrono::seconds(5);
  Duration idle_timeout = std::chrono::minutes(5);
  std::int64_t max_connections = 1024;
  std::uint64_t buffer_bytes = 64 * 1024;
  std::int64_t splice_pipes = 1024;  // pipes for splice(2) at once; 0 = copy through buffers
  bool operator==(const AgentIngressConfig&) const = default;
};

struct EgressForwardConfig {
  std::string listen;       // host:port inside the enclave
  std::string destination;  // host:port resolved and reached by the parent
  bool operator==(const EgressForwardConfig&) const = default;
};

struct AgentEgressConfig {
  std::string proxy_listen = "127.0.0.1:3128";  // HTTP CONNECT proxy; "" = none
  std::vector<EgressForwardConfig> forwards;
  std::vector<std::string> allow;
  std::vector<std::string> deny;
  Duration request_timeout = std::chrono::seconds(10);
  Duration idle_timeout = std::chrono::minutes(5);
  std::int64_t max_connections = 1024;
  std::uint64_t buffer_bytes = 64 * 1024;
  std::int64_t splice_pipes = 1024;
  bool operator==(const AgentEgressConfig&) const = default;
};

struct AgentConfig {
  std::string enclave_name = "enclave";
  relay::BoundaryConfig boundary;
  relay::ControlConfig control;
  AgentIngressConfig ingress;
  AgentEgressConfig egress;
  ntp::AgentNtpConfig ntp;
  AgentTelemetryConfig telemetry;
  WorkloadConfig workload;
  WorkloadMetricsConfig workload_metrics;
  LoggingConfig logging;
  Duration drain_timeout = std::chrono::seconds(5);
  bool operator==(const AgentConfig&) const = default;
};

AgentConfig read_agent_config(const YAML::Node& root, const std::string& source);
AgentConfig load_agent_config(const std::string& path);
const std::string& default_agent_config_yaml();

}  // namespace porthole::agent
