// Egress inside the enclave: an HTTP CONNECT proxy (the HTTPS_PROXY convention) and static
// forwards for programs that cannot use a proxy. Each connection becomes one vsock stream to
// the sidecar with a destination request; the answer maps to the CONNECT status (403 denied,
// 502 unreachable, 504 timeout, 503 limits). The enclave's own allowlist is enforced here,
// whatever the parent enforces.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/agent/config.hpp"
#include "porthole/common/time.hpp"
#include "porthole/relay/allowlist.hpp"
#include "porthole/relay/egress_request.hpp"
#include "porthole/relay/pipe_pool.hpp"
#include "porthole/relay/route_metrics.hpp"
#include "porthole/relay/stream.hpp"

namespace porthole::agent {

// "CONNECT host:port HTTP/1.1\r\n...\r\n\r\n": the head's length, 0 = need more, -1 = invalid
// (with `error`); host and port are set when valid. Exposed for tests and fuzzing.
long parse_connect_head(std::string_view bytes, std::string& host, std::uint16_t& port, std::string& error);

class EgressProxy {
 public:
  EgressProxy(boost::asio::any_io_executor executor, TimeSource& time, const AgentConfig& config,
              prometheus::Registry& registry);
  ~EgressProxy();
  void start();  // binds the proxy and every forward; throws naming the one that failed
  void stop();

 private:
  struct Listener;
  struct Conn;
  void on_accepted(Listener& l, relay::Stream client);
  void open_stream(const std::shared_ptr<Conn>& c);
  void answer(const std::shared_ptr<Conn>& c, relay::EgressStatus status, const std::string& reason);

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  const AgentConfig& config_;
  std::shared_ptr<spdlog::logger> log_;
  relay::Allowlist allowlist_;
  relay::RouteMetrics metrics_;
  relay::PipePool pipes_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::shared_ptr<std::int64_t> active_ = std::make_shared<std::int64_t>(0);
  std::uint64_t next_id_ = 1;
  bool stopped_ = false;
};

}  // namespace porthole::agent
