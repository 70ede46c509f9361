#include "porthole/agent/workload_config.hpp"

#include <boost/asio/ip/address.hpp>

#include "porthole/relay/control_protocol.hpp"

namespace porthole::agent {

using std::chrono::hours;
using std::chrono::milliseconds;

namespace {

constexpr const char* kUrlHint = "write http://IP:PORT/PATH, e.g. http://127.0.0.1:9100/metrics";

}  // namespace

bool WorkloadConfig::operator==(const WorkloadConfig& o) const {
  return command == o.command && env == o.env && working_dir == o.working_dir && restart == o.restart &&
         restart_backoff.initial == o.restart_backoff.initial && restart_backoff.max == o.restart_backoff.max &&
         restart_backoff.multiplier == o.restart_backoff.multiplier && stop_timeout == o.stop_timeout &&
         service_name == o.service_name && max_line_bytes == o.max_line_bytes;
}

std::string_view to_string(RestartPolicy policy) {
  switch (policy) {
    case RestartPolicy::Never: return "never";
    case RestartPolicy::OnFailure: return "on-failure";
    case RestartPolicy::Always: return "always";
  }
  return "?";
}

void parse_scrape_url(const std::string& url, std::string& host, std::uint16_t& port, std::string& path) {
  constexpr std::string_view scheme = "http://";
  if (url.rfind(scheme, 0) != 0) throw ConfigError("'" + url + "' is not an http:// URL; " + kUrlHint);
  std::string rest = url.substr(scheme.size());
  const auto slash = rest.find('/');
  path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string authority = rest.substr(0, slash);
  if (authority.find('@') != std::string::npos) throw ConfigError("'" + url + "': no user info; " + kUrlHint);
  if (path.find_first_of(" \r\n\t#") != std::string::npos) {
    throw ConfigError("'" + url + "': the path must not contain spaces, control characters or '#'");
  }
  std::string host_text;
  std::string port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) throw ConfigError("'" + url + "': unclosed '['; " + kUrlHint);
    host_text = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') port_text = authority.substr(close + 2);
  } else {
    const auto colon = authority.rfind(':');
    host_text = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (host_text == "localhost") host_text = "127.0.0.1";
  boost::system::error_code ec;
  boost::asio::ip::make_address(host_text, ec);
  if (ec) {
    throw ConfigError("'" + url + "': the host must be an IP address inside the enclave (no DNS there); " + kUrlHint);
  }
  if (port_text.empty()) throw ConfigError("'" + url + "': a port is required; " + kUrlHint);
  unsigned long value = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9' || value > 65535) throw ConfigError("'" + url + "': the port must be 1..65535");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) throw ConfigError("'" + url + "': the port must be 1..65535");
  host = host_text;
  port = static_cast<std::uint16_t>(value);
}

WorkloadMetricsConfig read_workload_metrics_config(ConfigNode node) {
  WorkloadMetricsConfig c;
  for (auto& t : node.maps("targets")) {
    ScrapeTargetConfig tc;
    tc.name = t.string("name", "");
    if (!relay::valid_peer_name(tc.name)) {
      t.fail("name", "'" + tc.name + "' must be 1..64 characters of [A-Za-z0-9._-] (it becomes the target label)");
    }
    for (const auto& other : c.targets) {
      if (other.name == tc.name) t.fail("name", "'" + tc.name + "' names another target already");
    }
    tc.url = t.string("url", "");
    try {
      parse_scrape_url(tc.url, tc.host, tc.port, tc.path);
    } catch (const ConfigError& e) {
      t.fail("url", e.what());
    }
    tc.interval = t.duration("interval", tc.interval, milliseconds(100), hours(1));
    tc.timeout = t.duration("timeout", tc.timeout, milliseconds(10), hours(1));
    if (tc.timeout > tc.interval) {
      t.fail("timeout", format_duration(tc.timeout) + " is longer than the interval (" + format_duration(tc.interval) +
                            "); a scrape must end before the next one is due");
    }
    t.reject_unknown_keys();
    c.targets.push_back(std::move(tc));
  }
  c.max_bytes = node.bytes("max_bytes", c.max_bytes, 1024, 64ull << 20);
  c.max_staleness = node.duration("max_staleness", c.max_staleness, Duration::zero(), hours(24));
  node.reject_unknown_keys();
  return c;
}

WorkloadConfig read_workload_config(ConfigNode node) {
  WorkloadConfig c;
  c.command = node.strings("command", c.command);
  if (!c.command.empty() && c.command.front().empty()) {
    node.fail("command", "the first entry (the program) is empty; write e.g. [/usr/bin/my-service, --flag]");
  }
  auto env = node.map("env");
  for (const auto& key : env.keys()) {
    if (key.empty() || key.find('=') != std::string::npos) {
      env.fail(key, "an environment variable name must be non-empty and contain no '='");
    }
    c.env[key] = env.string(key, "");
  }
  c.working_dir = node.string("working_dir", c.working_dir);
  if (!c.working_dir.empty() && c.working_dir.front() != '/') {
    node.fail("working_dir", "'" + c.working_dir + "' must be an absolute path (or \"\" for the agent's)");
  }
  const auto restart = node.string("restart", std::string(to_string(c.restart)));
  if (restart == "never") c.restart = RestartPolicy::Never;
  else if (restart == "on-failure") c.restart = RestartPolicy::OnFailure;
  else if (restart == "always") c.restart = RestartPolicy::Always;
  else node.fail("restart", "'" + restart + "' is not a restart policy; write never, on-failure or always");
  {
    auto b = node.map("restart_backoff");
    c.restart_backoff.initial = b.duration("initial", c.restart_backoff.initial, milliseconds(10), hours(1));
    c.restart_backoff.max = b.duration("max", c.restart_backoff.max, milliseconds(10), hours(24));
    if (c.restart_backoff.max < c.restart_backoff.initial) {
      b.fail("max", format_duration(c.restart_backoff.max) + " is below initial (" +
                        format_duration(c.restart_backoff.initial) + ")");
    }
    b.reject_unknown_keys();
  }
  c.stop_timeout = node.duration("stop_timeout", c.stop_timeout, Duration::zero(), hours(1));
  c.service_name = node.string("service_name", c.service_name);
  if (c.service_name.empty()) node.fail("service_name", "must not be empty (it is the logs' service.name)");
  c.max_line_bytes = node.bytes("max_line_bytes", c.max_line_bytes, 256, 1 << 20);
  node.reject_unknown_keys();
  return c;
}

}  // namespace porthole::agent
