#include "porthole/agent/control_client.hpp"

#include "porthole/common/logging.hpp"

namespace porthole::agent {

ControlClient::ControlClient(boost::asio::any_io_executor executor, TimeSource& time, const AgentConfig& config,
                             relay::ControlMetrics& metrics, prometheus::Registry& registry,
                             std::function<std::string()> metrics_provider, std::function<double()> uniform01)
    : executor_(std::move(executor)),
      time_(time),
      config_(config),
      metrics_(metrics),
      metrics_provider_(std::move(metrics_provider)),
      log_(logger("control")),
      backoff_(config.control.reconnect, std::move(uniform01)),
      retry_timer_(time.make_timer()),
      connect_timer_(time.make_timer()),
      attempts_(prometheus::BuildCounter()
                    .Name("porthole_control_connect_attempts_total")
                    .Help("Attempts to connect to the sidecar's control port, by result.")
                    .Labels({{"side", "enclave"}})
                    .Register(registry)),
      backoff_gauge_(prometheus::BuildGauge()
                         .Name("porthole_control_reconnect_delay_seconds")
                         .Help("The delay before the next attempt to reach the sidecar (0 while connected).")
                         .Labels({{"side", "enclave"}})
                         .Register(registry)
                         .Add({})) {
  attempts_.Add({{"result", "ok"}});
  attempts_.Add({{"result", "error"}});
}

ControlClient::~ControlClient() { stop(); }

void ControlClient::start() {
  log_->info("control: connecting to the sidecar at {}", config_.boundary.control_endpoint().to_string());
  dial();
}

void ControlClient::stop() {
  if (stopped_) return;
  stopped_ = true;
  retry_timer_->cancel();
  connect_timer_->cancel();
  if (dialling_) {
    boost::system::error_code ignored;
    dialling_->close(ignored);
  }
  if (auto s = std::move(session_)) s->close(relay::CloseReason::Shutdown, "the agent is shutting down", true);
  metrics_.connected.Set(0);
}

void ControlClient::dial() {
  if (stopped_) return;
  dialling_ = std::make_unique<relay::Stream>(executor_);
  connect_timer_->arm(config_.control.hello_timeout, [this] {
    boost::system::error_code ignored;
    if (dialling_) dialling_->close(ignored);  // completes the connect with operation_aborted
  });
  relay::async_connect(*dialling_, config_.boundary.control_endpoint(),
                       [this](const boost::system::error_code& ec) { on_dialled(ec); });
}

void ControlClient::on_dialled(const boost::system::error_code& ec) {
  connect_timer_->cancel();
  if (stopped_) return;
  if (ec) {
    attempts_.Add({{"result", "error"}}).Increment();
    retry_later(ec == boost::asio::error::operation_aborted ? "connect timed out" : ec.message());
    return;
  }
  attempts_.Add({{"result", "ok"}}).Increment();
  backoff_gauge_.Set(0);
  relay::Stream stream = std::move(*dialling_);
  dialling_.reset();
  relay::apply_stream_options(stream, config_.boundary.transport.kind, config_.boundary.stream);

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
  // The session object is still on the stack of its own close(); keep it alive until then.
  auto closing = std::move(session_);
  if (stopped_) return;
  // Start over with short delays only after a session that stayed up: a sidecar that accepts
  // and then refuses us at once must not be hammered every 100 ms.
  if (session_started_ != MonoTime::max() && time_.now() - session_started_ >= config_.control.heartbeat_timeout) {
    backoff_.reset();
  }
  retry_later(std::string("session ended (") + std::string(relay::to_string(reason)) + ")");
}

void ControlClient::retry_later(const std::string& why) {
  const auto delay = backoff_.next();
  backoff_gauge_.Set(std::chrono::duration<double>(delay).count());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
  // Loud on the first failure, quieter while the outage lasts.
  if (backoff_.attempts() <= 1) {
    log_->warn("control: cannot reach the sidecar at {}: {}; retrying in {} ms",
               config_.boundary.control_endpoint().to_string(), why, ms);
  } else {
    log_->info("control: still cannot reach the sidecar ({}, attempt {}); retrying in {} ms", why,
               backoff_.attempts(), ms);
  }
  retry_timer_->arm(delay, [this] { dial(); });
}

}  // namespace porthole::agent
