#include "porthole/agent/control_client.hpp"

#include "porthole/common/logging.hpp"

namespace porthole::agent {

ControlClient::ControlClient(boost::asio::any_io_executor executor, TimeSource& time, const AgentConfig& config,
                             relay::ControlMetrics& metrics, prometheus::Registry& registry,
                             std::function<std::string()> metrics_provider, std::function<double()> uniform01)
    : time_(time),
      config_(config),
      metrics_(metrics),
      metrics_provider_(std::move(metrics_provider)),
      log_(logger("control")),
      dialer_(std::move(executor), time,
              relay::DialerOptions{"control", config.boundary.control_endpoint(), config.boundary.stream,
                                   config.control.reconnect, config.control.hello_timeout},
              registry, "enclave", std::move(uniform01), log_) {}

ControlClient::~ControlClient() { stop(); }

void ControlClient::start() {
  log_->info("control: connecting to the sidecar at {}", config_.boundary.control_endpoint().to_string());
  dialer_.dial([this](relay::Stream stream) { on_connected(std::move(stream)); });
}

void ControlClient::stop() {
  if (stopped_) return;
  stopped_ = true;
  dialer_.stop();
  if (auto s = std::move(session_)) s->close(relay::CloseReason::Shutdown, "the agent is shutting down", true);
  metrics_.connected.Set(0);
}

void ControlClient::on_connected(relay::Stream stream) {
  relay::ControlSession::Callbacks callbacks;
  callbacks.metrics_provider = metrics_provider_;
  callbacks.on_ready = [this](const relay::Hello& peer) {
    metrics_.connected.Set(1);
    session_started_ = time_.now();
    log_->info("control: connected to sidecar '{}' ({}, control protocol v{})", peer.name, peer.software_version,
               peer.version);
  };
  callbacks.on_closed = [this](relay::CloseReason reason, const std::string&) { on_session_closed(reason); };
  session_ = relay::ControlSession::create(std::move(stream), time_,
                                           config_.control.session_options(relay::Role::Agent, config_.enclave_name),
                                           metrics_, log_, std::move(callbacks));
  session_started_ = MonoTime::max();
  session_->start();
}

void ControlClient::on_session_closed(relay::CloseReason reason) {
  metrics_.connected.Set(0);
  // The session is still on the stack of its own close(); keep it alive until then.
  auto closing = std::move(session_);
  if (stopped_) return;
  // Start over with short delays only after a session that stayed up: a sidecar that accepts
  // and then refuses us at once must not be hammered every 100 ms.
  const bool lasted =
      session_started_ != MonoTime::max() && time_.now() - session_started_ >= config_.control.heartbeat_timeout;
  dialer_.redial([this](relay::Stream stream) { on_connected(std::move(stream)); },
                 "session ended (" + std::string(relay::to_string(reason)) + ")", lasted);
}

}  // namespace porthole::agent
