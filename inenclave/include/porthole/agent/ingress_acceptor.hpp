// Ingress inside the enclave: accepts the sidecar's streams on the ingress vsock port, reads
// and validates each PROXY v2 header (with a deadline), maps its listener name to the
// workload's address, connects there (optionally passing the PROXY v2 header on), and relays.
// The parent is untrusted: a stream with a malformed header, an unknown listener or no header
// in time is closed and counted.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/agent/config.hpp"
#include "porthole/common/time.hpp"
#include "porthole/relay/pipe_pool.hpp"
#include "porthole/relay/route_metrics.hpp"
#include "porthole/relay/accept_loop.hpp"
#include "porthole/relay/stream.hpp"

namespace porthole::agent {

class IngressAcceptor {
 public:
  IngressAcceptor(boost::asio::any_io_executor executor, TimeSource& time, const AgentConfig& config,
                  prometheus::Registry& registry);
  ~IngressAcceptor();
  void start();  // throws when the ingress endpoint cannot be bound
  void stop();

 private:
  void on_accepted(relay::Stream stream);

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  const AgentConfig& config_;
  std::shared_ptr<spdlog::logger> log_;
  relay::RouteMetrics metrics_;
  relay::PipePool pipes_;
  relay::RouteMetrics::Route& unrouted_;  // streams that never reached a route
  std::optional<relay::Acceptor> acceptor_;
  std::optional<relay::AcceptLoop> accept_loop_;
  std::shared_ptr<std::int64_t> active_ = std::make_shared<std::int64_t>(0);
  bool stopped_ = false;
};

}  // namespace porthole::agent
