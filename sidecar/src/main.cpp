// porthole-sidecar: the parent-instance half of Porthole. A thin composition of the libraries.
#include <cstdio>
#include <iostream>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <prometheus/registry.h>

#include "porthole/common/allocator.hpp"
#include "porthole/common/asio_time.hpp"
#include "porthole/common/build_info.hpp"
#include "porthole/common/command_line.hpp"
#include "porthole/common/file_util.hpp"
#include "porthole/common/logging.hpp"
#include "porthole/common/process_metrics.hpp"
#include "porthole/common/shutdown.hpp"
#include "porthole/ntp/upstream_forwarder.hpp"
#include "porthole/relay/control_metrics.hpp"
#include "porthole/sidecar/admin_server.hpp"
#include "porthole/sidecar/config.hpp"
#include "porthole/sidecar/control_server.hpp"
#include "porthole/sidecar/egress_dialer.hpp"
#include "porthole/sidecar/ingress_server.hpp"
#include "porthole/sidecar/metrics_endpoint.hpp"
#include "porthole/sidecar/telemetry_forwarder.hpp"
#include "porthole/sidecar/telemetry_server.hpp"
#include "porthole/telemetry/jsonl_file_writer.hpp"
#include "porthole/telemetry/otlp_http_exporter.hpp"

namespace {

constexpr const char* kDescription =
    "The parent-instance half of Porthole: talks to porthole-agent inside the enclave over vsock\n"
    "and serves the enclave's health and metrics on the admin HTTP port.";

int run(const porthole::sidecar::SidecarConfig& config) {
  using namespace porthole;
  boost::asio::io_context io(1);
  AsioTimeSource time(io.get_executor());
  AllocatorTrimmer trim_idle_heap(time);

  prometheus::Registry registry;
  register_build_info(registry, "parent");
  ProcessMetrics process_metrics(prometheus::Labels{{"side", "parent"}});
  relay::ControlMetrics control_metrics(registry, "parent");

  sidecar::ControlServer control(io.get_executor(), time, config, control_metrics);
  sidecar::MetricsEndpoint metrics(control, time, registry, {&process_metrics}, config.admin.scrape_timeout);
  sidecar::AdminServer admin(io.get_executor(), config.admin, registry);
  admin.add_route("/healthz", [](auto respond) { respond({200, "text/plain; charset=utf-8", "ok\n"}); });
  admin.add_route("/readyz", [&control](auto respond) {
    const bool ready = control.ready();
    respond({ready ? 200u : 503u, "text/plain; charset=utf-8",
             std::string(ready ? "ready: " : "not ready: ") + control.status() + "\n"});
  });
  admin.add_route("/metrics", [&metrics](auto respond) {
    metrics.render([respond](std::string text) {
      respond({200, "text/plain; version=0.0.4; charset=utf-8", std::move(text)});
    });
  });

  sidecar::IngressServer ingress(io.get_executor(), time, config, registry);
  sidecar::EgressDialer egress(io.get_executor(), time, config, registry);
  admin.add_route("/listeners", [&ingress](auto respond) {
    std::string body = "{\"ingress\": {";
    bool first = true;
    for (const auto& [name, address] : ingress.bound()) {
      body += (first ? "\"" : ", \"") + name + "\": \"" + address + "\"";
      first = false;
    }
    respond({200, "application/json", body + "}}\n"});
  });
  std::optional<ntp::UpstreamForwarder> ntp_forwarder;
  if (config.ntp.enabled) {
    auto listen_on = config.boundary.ntp_endpoint();
    if (listen_on.kind == relay::TransportKind::Vsock) listen_on.cid = relay::kAnyCid;
    ntp_forwarder.emplace(io.get_executor(), time, config.ntp, listen_on, config.boundary.stream, registry);
  }

  // Telemetry: the agent's span/log batches -> OTLP/HTTP collector and/or JSON-lines file.
  std::optional<telemetry::OtlpHttpExporter> otlp_exporter;
  std::optional<telemetry::JsonlFileWriter> jsonl_writer;
  std::optional<sidecar::TelemetryForwarder> telemetry_forwarder;
  std::optional<sidecar::TelemetryServer> telemetry_server;
  bool exporter_drained = true;
  if (config.telemetry.enabled) {
    try {
      if (config.telemetry.otlp.enabled()) {
        telemetry::OtlpHttpExporter::Options options;
        options.on_response = [&](telemetry::OtlpSignal signal, unsigned status, std::string_view body) {
          if (telemetry_forwarder) telemetry_forwarder->on_collector_response(signal, status, body);
        };
        otlp_exporter.emplace(io.get_executor(), time, registry, config.telemetry.otlp, std::move(options));
      }
      if (!config.telemetry.jsonl_path.empty()) {
        telemetry::JsonlFileWriterConfig jc;
        jc.path = config.telemetry.jsonl_path;
        jc.rotate_bytes = config.telemetry.jsonl_rotate_bytes;
        jc.keep_files = config.telemetry.jsonl_keep_files;
        jc.time = &time;  // paces its warnings
        jsonl_writer.emplace(jc);
      }
    } catch (const std::exception& e) {
      logger("main")->critical("cannot start: telemetry: {}", e.what());
      return 1;
    }
    telemetry_forwarder.emplace(otlp_exporter ? &*otlp_exporter : nullptr, config.telemetry.otlp.encoding,
                                jsonl_writer ? &*jsonl_writer : nullptr, registry);
    auto listen_on = config.boundary.telemetry_endpoint();
    if (listen_on.kind == relay::TransportKind::Vsock) listen_on.cid = relay::kAnyCid;
    telemetry_server.emplace(io.get_executor(), time, config.telemetry, listen_on, config.boundary.stream,
                             *telemetry_forwarder, registry);
  }

  auto log = logger("main");
  try {
    control.start();
    ingress.start();
    if (config.egress.enabled) egress.start();
    if (ntp_forwarder) ntp_forwarder->start();
    if (telemetry_server) telemetry_server->start();
    admin.start();
  } catch (const std::exception& e) {
    log->critical("cannot start: {}", e.what());
    return 1;
  }
  if (!config.admin.address_file.empty()) {
    const auto ep = admin.local_endpoint();
    write_file_atomically(config.admin.address_file, ep.address().to_string() + ":" + std::to_string(ep.port()) + "\n");
  }
  log->info("porthole-sidecar {} started (boundary {}, enclave CID {}, open files {})", PORTHOLE_VERSION,
            config.boundary.transport.to_string(), config.boundary.enclave_cid, raise_open_file_limit());

  run_until_signalled(
      io, config.drain_timeout,
      [&] {
        admin.stop();
        ingress.stop();
        egress.stop();
        control.stop();
        if (ntp_forwarder) ntp_forwarder->stop();
        if (telemetry_server) telemetry_server->stop();
        if (otlp_exporter) {
          exporter_drained = false;
          otlp_exporter->shutdown(config.drain_timeout, [&] { exporter_drained = true; });
        }
      },
      [&] {
        return admin.open_connections() == 0 && ingress.active() == 0 && egress.active() == 0 && exporter_drained;
      });
  log->info("porthole-sidecar stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace porthole;
  const Program<sidecar::SidecarConfig> program{
      "porthole-sidecar", kDescription, &sidecar::default_sidecar_config_yaml, &sidecar::load_sidecar_config,
      [](const sidecar::SidecarConfig& c) { return std::string("control endpoint " + c.boundary.control_endpoint().to_string() + ", admin " + c.admin.listen); }};
  sidecar::SidecarConfig config;
  if (auto exit_code = handle_command_line(argc, argv, program, config)) return *exit_code;
  setup_logging(config.logging, "sidecar");
  tune_allocator();
  return run(config);
}
