// The sidecar's end of the telemetry channel (vsock 7001): accepts the agent (one at a time; a
// new connection supersedes the old one, as after an agent restart), checks the hello, and
// validates every batch as untrusted input — frame limits, payload header, bounded gzip,
// bounded OTLP protobuf decode — before a TelemetrySink sees it. A frame the codec rejects
// closes the connection; a batch that does not decode is logged, counted and acked
// "rejected", and the channel carries on. Every batch gets an Ack so the agent can count it.
#pragma once

#include <memory>
#include <optional>

#include <boost/asio/any_io_executor.hpp>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/common/time.hpp"
#include "porthole/relay/accept_loop.hpp"
#include "porthole/relay/address.hpp"
#include "porthole/relay/control_metrics.hpp"
#include "porthole/relay/frame_connection.hpp"
#include "porthole/sidecar/telemetry_config.hpp"
#include "porthole/sidecar/telemetry_forwarder.hpp"
#include "porthole/telemetry/otlp_proto.hpp"
#include "porthole/telemetry/telemetry_channel_metrics.hpp"

namespace porthole::sidecar {

class TelemetryServer {
 public:
  TelemetryServer(boost::asio::any_io_executor executor, TimeSource& time, const SidecarTelemetryConfig& config,
                  relay::Endpoint listen_on, relay::StreamOptions stream_options, TelemetrySink& sink,
                  prometheus::Registry& registry);
  ~TelemetryServer();

  void start();  // listens; throws std::runtime_error naming the endpoint
  void stop();
  bool connected() const { return connection_ && !connection_->closed() && greeted_; }

 private:
  void on_accepted(relay::Stream stream);
  void on_frame(relay::Frame&& frame);
  void on_batch(telemetry::ChannelSignal signal, std::string_view payload);
  void warn(const std::string& what);

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  const SidecarTelemetryConfig& config_;
  relay::Endpoint listen_on_;
  relay::StreamOptions stream_options_;
  TelemetrySink& sink_;
  std::shared_ptr<spdlog::logger> log_;
  relay::FrameRejectCounters rejected_;
  telemetry::TelemetryChannelMetrics metrics_;
  telemetry::OtlpDecodeLimits limits_;
  std::optional<relay::Acceptor> acceptor_;
  std::optional<relay::AcceptLoop> accept_loop_;
  std::shared_ptr<relay::FrameConnection> connection_;
  bool greeted_ = false;
  MonoTime last_warning_{};
  std::uint64_t suppressed_ = 0;
  bool stopped_ = false;
};

}  // namespace porthole::sidecar
