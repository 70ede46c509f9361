// porthole-agent: the in-enclave half of Porthole. A thin composition of the libraries.
#include <iostream>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "porthole/agent/config.hpp"
#include "porthole/agent/control_client.hpp"
#include "porthole/agent/egress_proxy.hpp"
#include "porthole/agent/ingress_acceptor.hpp"
#include "porthole/agent/otlp_ingest.hpp"
#include "porthole/agent/otlp_metrics_store.hpp"
#include "porthole/agent/otlp_receiver.hpp"
#include "porthole/agent/telemetry_channel_client.hpp"
#include "porthole/agent/agent_log_forwarder.hpp"
#include "porthole/agent/policy_sink.hpp"
#include "porthole/agent/workload_scraper.hpp"
#include "porthole/agent/workload_supervisor.hpp"
#include "porthole/common/allocator.hpp"
#include "porthole/common/asio_time.hpp"
#include "porthole/common/backoff.hpp"
#include "porthole/common/build_info.hpp"
#include "porthole/common/command_line.hpp"
#include "porthole/common/io_thread.hpp"
#include "porthole/common/logging.hpp"
#include "porthole/common/process_metrics.hpp"
#include "porthole/common/shutdown.hpp"
#include "porthole/ntp/chrony.hpp"
#include "porthole/ntp/enclave_relay.hpp"
#include "porthole/relay/control_metrics.hpp"
#include "porthole/telemetry/batch_processor.hpp"

namespace {

constexpr const char* kDescription =
    "The in-enclave half of Porthole: dials porthole-sidecar on the parent over vsock (its only way\n"
    "out) and publishes the enclave's metrics through it.";

// Where the workload's lines go when telemetry is disabled: nowhere (the supervisor counts each
// as dropped).
class DiscardingLogSink final : public porthole::telemetry::ItemSink<porthole::telemetry::LogItem> {
 public:
  bool submit(porthole::telemetry::LogItem&&) override { return false; }
};

int run(const porthole::agent::AgentConfig& config) {
  using namespace porthole;
  boost::asio::io_context io(1);
  AsioTimeSource time(io.get_executor());
  AllocatorTrimmer trim_idle_heap(time);

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

  // Telemetry: workload spans/logs -> policy -> batch processors -> channel to the sidecar.
  std::optional<agent::TelemetryChannelClient> telemetry_channel;
  std::optional<telemetry::SpanBatchProcessor> span_processor;
  std::optional<telemetry::LogBatchProcessor> log_processor;
  // The workload's OTLP metrics (docs/telemetry-metrics.md): filled on the receiver's thread, read
  // by render_metrics on this one (the store locks).
  std::optional<agent::OtlpMetricsStore> otlp_metrics;
  std::optional<agent::OtlpIngest> otlp_ingest;
  // The receiver decodes and filters on a thread of its own (common/io_thread.hpp says why);
  // everything it touches across threads is thread-safe (the processors' submit, counters, logs).
  IoThread receiver_thread;
  std::optional<agent::OtlpReceiver> otlp_receiver;
  if (config.telemetry.enabled) {
    telemetry_channel.emplace(io.get_executor(), time, config.telemetry.channel,
                              relay::DialerOptions{"telemetry", config.boundary.telemetry_endpoint(),
                                                   config.boundary.stream, config.control.reconnect,
                                                   config.control.hello_timeout},
                              registry, make_random_uniform01());
    span_processor.emplace(io.get_executor(), time, telemetry_channel->span_exporter(), registry, config.telemetry.spans);
    log_processor.emplace(io.get_executor(), time, telemetry_channel->log_exporter(), registry, config.telemetry.logs);
    if (!config.telemetry.receiver.listen.empty()) {
      if (config.telemetry.metrics.enabled) {
        otlp_metrics.emplace(config.telemetry.metrics, config.telemetry.policy, registry, time);
      }
      otlp_ingest.emplace(config.telemetry.policy, *span_processor, *log_processor, registry,
                          config.telemetry.receiver.max_request_bytes, time, otlp_metrics ? &*otlp_metrics : nullptr);
      otlp_receiver.emplace(receiver_thread.executor(), config.telemetry.receiver, *otlp_ingest);
    }
  }
  // Where other log sources (the workload supervisor's log capture) submit log records; null when
  // telemetry.enabled is false. Thread-safe and never blocks.
  // (The span processor is the sink for spans recorded by the agent itself.)
  [[maybe_unused]] telemetry::LogProcessor* log_sink = log_processor ? &*log_processor : nullptr;

  // The workload (docs/workload.md): its metrics scraped and relayed with ours, its process
  // supervised with its lines going to the log pipeline, joined by the agent's own log records.
  // Lines and records that do not come through the OTLP receiver pass the policy here.
  telemetry::PolicyMetrics workload_policy_metrics(registry, "enclave");
  std::optional<agent::PolicyLogSink> filtered_logs;
  if (log_sink) filtered_logs.emplace(config.telemetry.policy, *log_sink, &workload_policy_metrics);
  std::optional<agent::AgentLogForwarder> log_forwarder;
  if (filtered_logs) log_forwarder.emplace(*filtered_logs, std::max(config.logging.level, spdlog::level::info));
  DiscardingLogSink no_log_pipeline;
  agent::WorkloadScraper workload_scraper(io.get_executor(), time, config.workload_metrics, config.telemetry.policy,
                                          registry, &workload_policy_metrics);
  std::optional<agent::WorkloadSupervisor> workload;
  if (!config.workload.command.empty()) {
    workload.emplace(io.get_executor(), time, config.workload,
                     filtered_logs ? static_cast<telemetry::ItemSink<telemetry::LogItem>&>(*filtered_logs)
                                   : no_log_pipeline,
                     registry, make_random_uniform01());
  }
  bool spans_flushed = !span_processor, logs_flushed = !log_processor;

  auto render_metrics = [&] {
    if (ntp_relay) ntp_relay->refresh_metrics();
    auto families = registry.Collect();
    for (auto& f : process_metrics.Collect()) families.push_back(std::move(f));
    workload_scraper.append_to(families);
    if (otlp_metrics) otlp_metrics->append_to(families);
    return prometheus::TextSerializer().Serialize(families);
  };
  agent::ControlClient control(io.get_executor(), time, config, control_metrics, registry, render_metrics,
                               make_random_uniform01());
  auto log = logger("main");
  log->info("porthole-agent {} started (enclave '{}', boundary {}, open files {})", PORTHOLE_VERSION,
            config.enclave_name, config.boundary.transport.to_string(), raise_open_file_limit());
  control.start();
  // HTTP server spans recorded at ingress (protocol: http1) pass the policy too.
  std::optional<agent::PolicySpanSink> ingress_spans;
  if (span_processor) ingress_spans.emplace(config.telemetry.policy, *span_processor, &workload_policy_metrics);
  agent::IngressAcceptor ingress(io.get_executor(), time, config, registry,
                                 ingress_spans ? &*ingress_spans : nullptr);
  agent::EgressProxy egress(io.get_executor(), time, config, registry);
  try {
    ingress.start();
    egress.start();
    workload_scraper.start();
    if (workload) workload->start();
    if (telemetry_channel) telemetry_channel->start();
    if (otlp_receiver) otlp_receiver->start();
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
  if (otlp_receiver) receiver_thread.start();
  // Stopping the workload (SIGTERM, SIGKILL after stop_timeout) is part of the drain.
  const auto drain = workload ? std::max(config.drain_timeout, config.workload.stop_timeout + std::chrono::seconds(1))
                              : config.drain_timeout;
  run_until_signalled(
      io, drain,
      [&] {
        if (workload) workload->stop();
        workload_scraper.stop();
        ingress.stop();
        egress.stop();
        control.stop();
        // What is queued gets the drain time to reach the sidecar; the rest is counted (shutdown).
        if (otlp_receiver) {
          boost::asio::post(receiver_thread.executor(), [&] { otlp_receiver->stop(); });
          receiver_thread.release();
        }
        if (span_processor) span_processor->shutdown(config.drain_timeout, [&](bool) { spans_flushed = true; });
        if (log_processor) log_processor->shutdown(config.drain_timeout, [&](bool) { logs_flushed = true; });
        if (chrony_monitor) chrony_monitor->stop();
        if (chronyd) chronyd->stop();
        if (ntp_relay) ntp_relay->stop();
      },
      [&] { return spans_flushed && logs_flushed && (!workload || workload->finished()); });
  receiver_thread.join();
  if (telemetry_channel) telemetry_channel->stop();
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
  tune_allocator();
  return run(config);
}
