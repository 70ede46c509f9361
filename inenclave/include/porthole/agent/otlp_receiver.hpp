// The agent's OTLP/HTTP receiver: a small Beast server on telemetry.otlp_listen (127.0.0.1:4318)
// that the workload's OpenTelemetry SDK exports spans and logs to. Transport only — keep-alive,
// a body limit, a per-request timeout and a bound on connections; what a request means is
// OtlpIngest's job.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <spdlog/logger.h>

#include "porthole/agent/otlp_ingest.hpp"
#include "porthole/agent/telemetry_config.hpp"
#include "porthole/relay/http_listener.hpp"

namespace porthole::agent {

class OtlpReceiver {
 public:
  OtlpReceiver(boost::asio::any_io_executor executor, const OtlpReceiverConfig& config, OtlpIngest& ingest);
  ~OtlpReceiver();

  // Binds config.listen; throws std::runtime_error naming it when it cannot.
  void start();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const { return listener_.local_endpoint(); }
  int open_connections() const { return listener_.open_connections(); }

 private:
  class Session;

  const OtlpReceiverConfig& config_;
  OtlpIngest& ingest_;
  std::shared_ptr<spdlog::logger> log_;
  bool stopped_ = false;
  relay::HttpListener listener_;
};

}  // namespace porthole::agent
