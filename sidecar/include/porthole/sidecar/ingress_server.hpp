// Ingress on the parent: TCP listeners from config; each accepted connection becomes one vsock
// stream to the agent that starts with a PROXY v2 header (client address, listener name,
// connection id), then raw bytes both ways through a StreamRelay. Per-listener connection
// limit with a clean refusal; connect timeout; golden metrics per listener.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/common/time.hpp"
#include "porthole/relay/pipe_pool.hpp"
#include "porthole/relay/route_metrics.hpp"
#include "porthole/relay/stream.hpp"
#include "porthole/sidecar/config.hpp"

namespace porthole::sidecar {

class IngressServer {
 public:
  IngressServer(boost::asio::any_io_executor executor, TimeSource& time, const SidecarConfig& config,
                prometheus::Registry& registry);
  ~IngressServer();

  void start();  // binds every listener; throws naming the one that failed
  void stop();   // stops accepting; connections in flight continue until they end
  std::size_t active() const;
  // name -> bound host:port, for /listeners.
  std::map<std::string, std::string> bound() const;

 private:
  struct Listener;
  void on_accepted(Listener& l, relay::Stream client);

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  const SidecarConfig& config_;
  std::shared_ptr<spdlog::logger> log_;
  relay::RouteMetrics metrics_;
  relay::PipePool pipes_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::uint64_t next_id_ = 1;
  bool stopped_ = false;
};

}  // namespace porthole::sidecar
