// The sidecar's admin HTTP server (Boost.Beast): /healthz, /readyz and /metrics, GET or HEAD.
// listener -> session (Beast's advanced-server shape), keep-alive, a request timeout, a cap on
// connections, and a counter per path and status code.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/relay/http_listener.hpp"
#include "porthole/sidecar/config.hpp"

namespace porthole::sidecar {

struct AdminResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class AdminServer {
 public:
  // A route answers asynchronously through `respond` (which may be called inside the route).
  using Respond = std::function<void(AdminResponse)>;
  using Route = std::function<void(Respond)>;

  AdminServer(boost::asio::any_io_executor executor, const AdminConfig& config, prometheus::Registry& registry);
  ~AdminServer();

  void add_route(const std::string& path, Route route);
  // Binds and starts accepting; throws with the address in the message when it can't bind.
  void start();
  void stop();  // stops accepting and closes idle connections; requests in flight finish
  std::size_t open_connections() const { return static_cast<std::size_t>(listener_.open_connections()); }
  boost::asio::ip::tcp::endpoint local_endpoint() const { return listener_.local_endpoint(); }

  class Session;

 private:
  friend class Session;
  void count(const std::string& path, unsigned status);

  const AdminConfig& config_;
  std::shared_ptr<spdlog::logger> log_;
  std::map<std::string, Route> routes_;
  prometheus::Family<prometheus::Counter>& requests_;
  bool stopped_ = false;
  relay::HttpListener listener_;
};

}  // namespace porthole::sidecar
