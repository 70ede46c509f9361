#include "porthole/sidecar/telemetry_server.hpp"

#include "porthole/common/logging.hpp"
#include "porthole/telemetry/telemetry_channel.hpp"

namespace porthole::sidecar {

using telemetry::ChannelSignal;
using telemetry::TelemetryChannelError;
using telemetry::TelemetryFrameType;

TelemetryServer::TelemetryServer(boost::asio::any_io_executor executor, TimeSource& time,
                                 const SidecarTelemetryConfig& config, relay::Endpoint listen_on,
                                 relay::StreamOptions stream_options, TelemetrySink& sink,
                                 prometheus::Registry& registry)
    : executor_(executor),
      time_(time),
      config_(config),
      listen_on_(std::move(listen_on)),
      stream_options_(stream_options),
      sink_(sink),
      log_(logger("telemetry")),
      rejected_(registry, "parent", "telemetry"),
      metrics_(registry, "parent") {
  limits_.max_bytes = config_.max_batch_bytes;
}

TelemetryServer::~TelemetryServer() { stop(); }

void TelemetryServer::start() {
  acceptor_.emplace(relay::listen(executor_, listen_on_));
  log_->info("telemetry: accepting the agent's spans and logs on {}", listen_on_.to_string());
  accept_loop_.emplace(*acceptor_, time_, log_, "telemetry", [this](relay::Stream s) { on_accepted(std::move(s)); });
  accept_loop_->start();
}

void TelemetryServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (accept_loop_) accept_loop_->stop();
  if (auto c = std::move(connection_)) c->close(relay::CloseReason::Shutdown, "the sidecar is shutting down");
  metrics_.set_connected(false);
}

void TelemetryServer::on_accepted(relay::Stream stream) {
  if (auto old = std::move(connection_)) {
    metrics_.error(TelemetryChannelError::Superseded);
    log_->info("telemetry: a new agent connection replaces the current one");
    old->close(relay::CloseReason::Superseded, "a new telemetry connection from the enclave");
  }
  relay::apply_stream_options(stream, listen_on_.kind, stream_options_);
  // Acks are 14 bytes; a peer that does not read them is closed long before this fills.
  connection_ = relay::FrameConnection::create(std::move(stream),
                                               relay::FrameLimits::of(config_.max_frame_bytes, {1, 2, 3, 4}), 1 << 20,
                                               rejected_, log_, "telemetry");
  greeted_ = false;
  std::weak_ptr<relay::FrameConnection> weak = connection_;
  connection_->start({[this](relay::Frame&& f) { on_frame(std::move(f)); },
                      [this, weak](relay::CloseReason, const std::string& detail) {
                        log_->info("telemetry: agent connection closed: {}", detail);
                        if (weak.lock() == connection_) {
                          connection_.reset();
                          greeted_ = false;
                          metrics_.set_connected(false);
                        }
                      }});
  connection_->send(static_cast<std::uint8_t>(TelemetryFrameType::Hello), telemetry::encode_channel_hello());
}

void TelemetryServer::on_frame(relay::Frame&& frame) {
  const auto type = static_cast<TelemetryFrameType>(frame.type);
  if (type == TelemetryFrameType::Hello) {
    auto version = telemetry::decode_channel_hello(frame.payload);
    if (!version) return connection_->reject(relay::FrameError::Malformed, "bad hello");
    if (*version != telemetry::kTelemetryChannelVersion) {
      metrics_.error(TelemetryChannelError::VersionMismatch);
      log_->error("telemetry: the agent speaks telemetry channel v{}, this sidecar v{}; run matching versions",
                  *version, telemetry::kTelemetryChannelVersion);
      return connection_->close(relay::CloseReason::VersionMismatch, "telemetry channel version mismatch");
    }
    greeted_ = true;
    metrics_.set_connected(true);
    log_->info("telemetry: agent connected");
    return;
  }
  if (!greeted_) return connection_->reject(relay::FrameError::Malformed, "a frame before hello");
  switch (type) {
    case TelemetryFrameType::Spans: return on_batch(ChannelSignal::Spans, frame.payload);
    case TelemetryFrameType::Logs: return on_batch(ChannelSignal::Logs, frame.payload);
    default: return connection_->reject(relay::FrameError::Malformed, "an ack sent to the sidecar");
  }
}

void TelemetryServer::on_batch(ChannelSignal signal, std::string_view payload) {
  auto batch = telemetry::decode_batch_payload(payload);
  if (!batch) {
    metrics_.error(TelemetryChannelError::Malformed);
    return connection_->reject(relay::FrameError::Malformed, "batch payload shorter than its header or unknown flags");
  }
  auto reject = [&](const std::string& why) {
    metrics_.error(TelemetryChannelError::Malformed);
    warn(std::string("rejected a ") + std::string(to_string(signal)) + " batch: " + why);
    connection_->send(static_cast<std::uint8_t>(TelemetryFrameType::Ack),
                      telemetry::encode_ack(batch->seq, telemetry::AckStatus::Rejected));
  };
  std::string error;
  auto request = telemetry::batch_request_bytes(*batch, config_.max_batch_bytes, error);
  if (!request) return reject(error);
  std::uint64_t items = 0;
  if (signal == ChannelSignal::Spans) {
    telemetry::TraceBatch decoded;
    if (!telemetry::decode_trace_request(*request, decoded, error, limits_)) return reject(error);
    items = decoded.span_count();
    metrics_.batch(signal, items, payload.size(), request->size());
    sink_.on_spans(std::move(decoded));
  } else {
    telemetry::LogBatch decoded;
    if (!telemetry::decode_logs_request(*request, decoded, error, limits_)) return reject(error);
    items = decoded.log_record_count();
    metrics_.batch(signal, items, payload.size(), request->size());
    sink_.on_logs(std::move(decoded));
  }
  // The sink may have been slow; the connection may have closed meanwhile (stop()).
  if (connection_ && !connection_->closed()) {
    connection_->send(static_cast<std::uint8_t>(TelemetryFrameType::Ack),
                      telemetry::encode_ack(batch->seq, telemetry::AckStatus::Accepted));
  }
}

void TelemetryServer::warn(const std::string& what) {
  // An enclave that sends garbage must not flood the parent's logs: one line per second.
  const auto now = time_.now();
  if (now - last_warning_ < std::chrono::seconds(1)) {
    ++suppressed_;
    return;
  }
  log_->warn("telemetry: {} ({} similar suppressed)", what, suppressed_);
  suppressed_ = 0;
  last_warning_ = now;
}

}  // namespace porthole::sidecar
