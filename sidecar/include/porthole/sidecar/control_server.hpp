// The sidecar's end of the control channel: accepts agents on the control port, keeps the
// newest established session (a reconnecting agent supersedes its old session), and answers
// "is the enclave there?" for /readyz and the metrics relay.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <spdlog/logger.h>

#include "porthole/common/time.hpp"
#include "porthole/relay/control_metrics.hpp"
#include "porthole/relay/accept_loop.hpp"
#include "porthole/relay/control_session.hpp"
#include "porthole/sidecar/config.hpp"

namespace porthole::sidecar {

class ControlServer {
 public:
  ControlServer(boost::asio::any_io_executor executor, TimeSource& time, const SidecarConfig& config,
                relay::ControlMetrics& metrics);
  ~ControlServer();

  void start();  // throws boost::system::system_error when the control endpoint can't be bound
  void stop();   // stops accepting and closes every session, telling agents why

  // Established and heard from within the heartbeat timeout.
  bool ready() const;
  std::shared_ptr<relay::ControlSession> session() const { return current_; }
  // The name of the current or, when none is connected, the last enclave seen.
  const std::optional<std::string>& enclave_name() const { return enclave_name_; }
  std::string status() const;  // one line for /readyz

 private:
  void on_accepted(relay::Stream stream);

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  const SidecarConfig& config_;
  relay::ControlMetrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  std::optional<relay::Acceptor> acceptor_;
  std::optional<relay::AcceptLoop> accept_loop_;
  std::shared_ptr<relay::ControlSession> current_;
  std::set<std::shared_ptr<relay::ControlSession>> handshaking_;
  std::optional<std::string> enclave_name_;
  bool stopped_ = false;
};

}  // namespace porthole::sidecar
