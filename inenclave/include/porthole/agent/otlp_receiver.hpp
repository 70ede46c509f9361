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
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include "porthole/agent/otlp_ingest.hpp"
#include "porthole/agent/telemetry_config.hpp"

namespace porthole::agent {

class OtlpReceiver {
 public:
  OtlpReceiver(boost::asio::any_io_executor executor, const OtlpReceiverConfig& config, OtlpIngest& ingest);
  ~OtlpReceiver();

  // Binds config.listen; throws std::runtime_error naming it when it cannot.
  void start();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  int open_connections() const { return *active_; }

 private:
  class Session;
  void accept_next();

  boost::asio::any_io_executor executor_;
  const OtlpReceiverConfig& config_;
  OtlpIngest& ingest_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer pause_;
  std::shared_ptr<int> active_ = std::make_shared<int>(0);
  std::vector<std::weak_ptr<Session>> sessions_;
  bool stopped_ = false;
};

}  // namespace porthole::agent
