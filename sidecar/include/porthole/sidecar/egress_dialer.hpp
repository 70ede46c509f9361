// Egress on the parent: accepts the agent's outbound streams on the egress vsock port; each
// starts with a destination request. The sidecar enforces its allowlist on the name and on
// every address DNS gives (deny wins, default deny, the host's own loopback and link-local
// denied by default), resolves on the parent, connects with a timeout, answers with a status,
// then relays raw bytes. Every refusal has a status, a log line and a counter.
#pragma once

#include <memory>
#include <optional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/common/time.hpp"
#include "porthole/relay/allowlist.hpp"
#include "porthole/relay/egress_request.hpp"
#include "porthole/relay/pipe_pool.hpp"
#include "porthole/relay/route_metrics.hpp"
#include "porthole/relay/accept_loop.hpp"
#include "porthole/relay/stream.hpp"
#include "porthole/sidecar/config.hpp"

namespace porthole::sidecar {

class EgressDialer {
 public:
  EgressDialer(boost::asio::any_io_executor executor, TimeSource& time, const SidecarConfig& config,
               prometheus::Registry& registry);
  ~EgressDialer();
  void start();
  void stop();
  std::size_t active() const { return static_cast<std::size_t>(*active_); }

 private:
  struct Conn;
  void on_accepted(relay::Stream stream);
  void on_request(const std::shared_ptr<Conn>& c);
  void connect(const std::shared_ptr<Conn>& c, std::vector<boost::asio::ip::tcp::endpoint> targets, std::size_t i);
  void refuse(const std::shared_ptr<Conn>& c, relay::EgressStatus status, const std::string& reason,
              relay::RelayError error);

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  const SidecarConfig& config_;
  std::shared_ptr<spdlog::logger> log_;
  relay::Allowlist allowlist_;
  relay::RouteMetrics metrics_;
  relay::PipePool pipes_;
  std::optional<relay::Acceptor> acceptor_;
  std::optional<relay::AcceptLoop> accept_loop_;
  boost::asio::ip::tcp::resolver resolver_;
  std::shared_ptr<std::int64_t> active_ = std::make_shared<std::int64_t>(0);
  bool stopped_ = false;
};

}  // namespace porthole::sidecar
