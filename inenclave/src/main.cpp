// porthole-agent: the in-enclave half of Porthole. A thin composition of the libraries.
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "porthole/agent/config.hpp"
#include "porthole/agent/control_client.hpp"
#include "porthole/common/asio_time.hpp"
#include "porthole/common/backoff.hpp"
#include "porthole/common/build_info.hpp"
#include "porthole/common/command_line.hpp"
#include "porthole/common/logging.hpp"
#include "porthole/common/process_metrics.hpp"
#include "porthole/common/shutdown.hpp"
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

  auto render_metrics = [&registry, &process_metrics] {
    auto families = registry.Collect();
    for (auto& f : process_metrics.Collect()) families.push_back(std::move(f));
    return prometheus::TextSerializer().Serialize(families);
  };
  agent::ControlClient control(io.get_executor(), time, config, control_metrics, registry, render_metrics,
                               make_random_uniform01());
  auto log = logger("main");
  log->info("porthole-agent {} started (enclave '{}', boundary {})", PORTHOLE_VERSION, config.enclave_name,
            config.boundary.transport.to_string());
  control.start();
  run_until_signalled(
      io, config.drain_timeout, [&] { control.stop(); }, [] { return true; });
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
