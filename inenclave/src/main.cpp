// porthole-agent: the in-enclave half of Porthole. A thin composition of the libraries.
#include <iostream>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "porthole/agent/config.hpp"
#include "porthole/agent/control_client.hpp"
#include "porthole/agent/egress_proxy.hpp"
#include "porthole/agent/ingress_acceptor.hpp"
#include "porthole/common/asio_time.hpp"
#include "porthole/common/backoff.hpp"
#include "porthole/common/build_info.hpp"
#include "porthole/common/command_line.hpp"
#include "porthole/common/logging.hpp"
#include "porthole/common/process_metrics.hpp"
#include "porthole/common/shutdown.hpp"
#include "porthole/ntp/chrony.hpp"
#include "porthole/ntp/enclave_relay.hpp"
#include "porthole/relay/control_metrics.hpp"

namespace {

constexpr const char* kDescription =
    "The in-enclave half of Porthole: dials porthole-sidecar on the parent over vsock (its only way\n"
    "out) and publishes the enclave's metrics through it.";

int run(const porthole::agent::AgentConfig& config) {
  using namespace porthole;
  boost::asio::io_context io(1);
  AsioTimeSource time(io.get_executor());

  prometheus::Registry registry;
  register_build_info(registry, "enclave");
  ProcessMetrics process_metrics(prometheus::Labels{{"side", "enclave"}});
  relay::ControlMetrics control_metrics(registry, "enclave");

  std::optional<ntp::EnclaveRelay> ntp_relay;
  std::optional<ntp::ChronydSupervisor> chronyd;
  std::optional<ntp::ChronyMonitor> chrony_monitor;
  if (config.ntp.enabled) {
    ntp_relay.emplace(io.get_executor(), time, config.ntp,
                      relay::DialerOptions{"ntp", config.boundary.ntp_endpoint(), config.boundary.stream,
                                           config.control.reconnect, config.control.hello_timeout},
                      registry, make_random_uniform01());
  }

  auto render_metrics = [&] {
    if (ntp_relay) ntp_relay->refresh_metrics();
    auto families = registry.Collect();
    for (auto& f : process_metrics.Collect()) families.push_back(std::move(f));
    return prometheus::TextSerializer().Serialize(families);
  };
  agent::ControlClient control(io.get_executor(), time, config, control_metrics, registry, render_metrics,
                               make_random_uniform01());
  auto log = logger("main");
  log->info("porthole-agent {} started (enclave '{}', boundary {}, open files {})", PORTHOLE_VERSION,
            config.enclave_name, config.boundary.transport.to_string(), raise_open_file_limit());
  control.start();
  agent::IngressAcceptor ingress(io.get_executor(), time, config, registry);
  agent::EgressProxy egress(io.get_executor(), time, config, registry);
  try {
    ingress.start();
    egress.start();
    if (ntp_relay) {
      ntp_relay->start();
      std::string chrony_socket = config.ntp.chrony_socket;
      if (config.ntp.chronyd.run) {
        const auto local = ntp_relay->local_endpoint();
        chronyd.emplace(time, config.ntp.chronyd, local.address().to_string(), local.port(), make_random_uniform01());
        chronyd->start();
        chrony_socket = chronyd->command_socket();
      }
      // The chrony gauges exist (NaN, porthole_chrony_up 0) even when no chronyd is there to read.
      const auto interval = config.ntp.measure_interval.count() > 0 ? config.ntp.measure_interval
                                                                     : Duration(std::chrono::seconds(16));
      chrony_monitor.emplace(io.get_executor(), time, config.ntp.chronyd.chronyc_path, chrony_socket, interval,
                             registry);
      if (!chrony_socket.empty()) chrony_monitor->start();
    }
  } catch (const std::exception& e) {
    log->critical("cannot start: {}", e.what());
    return 1;
  }
  run_until_signalled(
      io, config.drain_timeout,
      [&] {
        ingress.stop();
        egress.stop();
        control.stop();
        if (chrony_monitor) chrony_monitor->stop();
        if (chronyd) chronyd->stop();
        if (ntp_relay) ntp_relay->stop();
      },
      [] { return true; });
  log->info("porthole-agent stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace porthole;
  const Program<agent::AgentConfig> program{
      "porthole-agent", kDescription, &agent::default_agent_config_yaml, &agent::load_agent_config,
      [](const agent::AgentConfig& c) { return std::string("enclave '" + c.enclave_name + "', sidecar at " + c.boundary.control_endpoint().to_string()); }};
  agent::AgentConfig config;
  if (auto exit_code = handle_command_line(argc, argv, program, config)) return *exit_code;
  setup_logging(config.logging, "agent");
  return run(config);
}
