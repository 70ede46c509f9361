#include "porthole/ntp/config.hpp"

#include "porthole/relay/address.hpp"

namespace porthole::ntp {

using std::chrono::hours;
using std::chrono::milliseconds;


namespace {

void check_address(ConfigNode& node, const std::string& key, const std::string& text, bool allow_port_zero) {
  try {
    std::string host;
    std::uint16_t port = 0;
    relay::split_host_port(text, host, port);
    if (port == 0 && !allow_port_zero) throw ConfigError("'" + text + "': the port must be 1..65535");
  } catch (const ConfigError& e) {
    node.fail(key, e.what());
  }
}

}  // namespace

SidecarNtpConfig read_sidecar_ntp_config(ConfigNode node) {
  SidecarNtpConfig c;
  c.enabled = node.boolean("enabled", c.enabled);
  c.upstreams = node.strings("upstreams", c.upstreams);
  if (c.enabled && c.upstreams.empty()) node.fail("upstreams", "must name at least one NTP server, or set ntp.enabled: false");
  for (std::size_t i = 0; i < c.upstreams.size(); ++i) {
    check_address(node, "upstreams[" + std::to_string(i) + "]", c.upstreams[i], false);
  }
  c.request_timeout = node.duration("request_timeout", c.request_timeout, milliseconds(10), std::chrono::seconds(60));
  c.max_requests_per_second = node.integer("max_requests_per_second", c.max_requests_per_second, 1, 100000);
  c.max_outstanding = node.integer("max_outstanding", c.max_outstanding, 1, 100000);
  c.failover_after = node.integer("failover_after", c.failover_after, 1, 1000);
  node.reject_unknown_keys();
  return c;
}

AgentNtpConfig read_agent_ntp_config(ConfigNode node) {
  AgentNtpConfig c;
  c.enabled = node.boolean("enabled", c.enabled);
  c.listen = node.string("listen", c.listen);
  check_address(node, "listen", c.listen, true);
  c.max_requests_per_second = node.integer("max_requests_per_second", c.max_requests_per_second, 1, 100000);
  c.max_outstanding = node.integer("max_outstanding", c.max_outstanding, 1, 100000);
  c.request_timeout = node.duration("request_timeout", c.request_timeout, milliseconds(10), std::chrono::seconds(60));
  c.measure_interval = node.duration("measure_interval", c.measure_interval, milliseconds(0), hours(24));
  if (c.measure_interval.count() != 0 && c.measure_interval < milliseconds(100)) {
    node.fail("measure_interval", "must be 0s (off) or at least 100ms");
  }
  c.max_offset = node.duration("max_offset", c.max_offset, std::chrono::microseconds(1), hours(1));
  c.sync_timeout = node.duration("sync_timeout", c.sync_timeout, milliseconds(100), hours(24));
  if (c.measure_interval.count() != 0 && c.sync_timeout <= c.measure_interval) {
    node.fail("sync_timeout", "must be longer than ntp.measure_interval, or the clock would read unsynchronised "
                              "between two measurements");
  }
  c.chrony_socket = node.string("chrony_socket", c.chrony_socket);
  auto chronyd = node.map("chronyd");
  c.chronyd.run = chronyd.boolean("run", c.chronyd.run);
  c.chronyd.path = chronyd.string("path", c.chronyd.path);
  c.chronyd.chronyc_path = chronyd.string("chronyc_path", c.chronyd.chronyc_path);
  c.chronyd.adjust_clock = chronyd.boolean("adjust_clock", c.chronyd.adjust_clock);
  c.chronyd.runtime_dir = chronyd.string("runtime_dir", c.chronyd.runtime_dir);
  c.chronyd.config_template = chronyd.string("config_template", c.chronyd.config_template);
  for (const char* key : {"path", "chronyc_path", "runtime_dir", "config_template"}) {
    const auto& v = key == std::string("path") ? c.chronyd.path
                    : key == std::string("chronyc_path") ? c.chronyd.chronyc_path
                    : key == std::string("runtime_dir") ? c.chronyd.runtime_dir
                                                        : c.chronyd.config_template;
    if (v.empty() || v.front() != '/') chronyd.fail(key, "'" + v + "' must be an absolute path");
  }
  chronyd.reject_unknown_keys();
  node.reject_unknown_keys();
  return c;
}

}  // namespace porthole::ntp
