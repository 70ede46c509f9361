// The agent's end of the control channel: dials the sidecar and keeps dialling, forever (a
// Dialer), and serves the agent's metrics to the sidecar's pulls.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/agent/config.hpp"
#include "porthole/common/time.hpp"
#include "porthole/relay/control_metrics.hpp"
#include "porthole/relay/control_session.hpp"
#include "porthole/relay/dialer.hpp"

namespace porthole::agent {

class ControlClient {
 public:
  ControlClient(boost::asio::any_io_executor executor, TimeSource& time, const AgentConfig& config,
                relay::ControlMetrics& metrics, prometheus::Registry& registry,
                std::function<std::string()> metrics_provider, std::function<double()> uniform01);
  ~ControlClient();

  void start();
  void stop();  // tells the sidecar and stops dialling
  bool connected() const { return session_ && session_->ready(); }

 private:
  void on_connected(relay::Stream stream);
  void on_session_closed(relay::CloseReason reason);

  TimeSource& time_;
  const AgentConfig& config_;
  relay::ControlMetrics& metrics_;
  std::function<std::string()> metrics_provider_;
  std::shared_ptr<spdlog::logger> log_;
  relay::Dialer dialer_;
  std::shared_ptr<relay::ControlSession> session_;
  MonoTime session_started_;
  bool stopped_ = false;
};

}  // namespace porthole::agent
