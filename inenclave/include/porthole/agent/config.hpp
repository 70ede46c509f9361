// porthole-agent's configuration: defaults, validation and the documented default file.
#pragma once

#include <string>

#include "porthole/common/config_reader.hpp"
#include "porthole/common/logging.hpp"
#include "porthole/ntp/config.hpp"
#include "porthole/relay/control_config.hpp"

namespace porthole::agent {

struct AgentConfig {
  std::string enclave_name = "enclave";
  relay::BoundaryConfig boundary;
  relay::ControlConfig control;
  ntp::AgentNtpConfig ntp;
  LoggingConfig logging;
  Duration drain_timeout = std::chrono::seconds(5);
  bool operator==(const AgentConfig&) const = default;
};

AgentConfig read_agent_config(const YAML::Node& root, const std::string& source);
AgentConfig load_agent_config(const std::string& path);
const std::string& default_agent_config_yaml();

}  // namespace porthole::agent
