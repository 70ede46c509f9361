// One HTTP/1.1 GET through an HTTP CONNECT proxy (the agent's egress proxy): CONNECT
// HOST:PORT, then GET `path` inside the tunnel. Reports the upstream status and body length,
// or the proxy's refusal (its status line, e.g. "HTTP/1.1 403 Forbidden") or the error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <boost/asio/any_io_executor.hpp>

namespace porthole::loadtest {

struct EgressResult {
  bool ok = false;
  unsigned status = 0;      // the upstream's status when ok
  std::uint64_t bytes = 0;  // the upstream's body length when ok
  std::string error;        // the CONNECT status line or the error when not ok
};

struct EgressRequest {
  std::string proxy_host;
  std::string proxy_port;
  std::string target;  // HOST:PORT
  std::string path;    // starts with '/'
  std::chrono::milliseconds timeout{10000};  // for the whole exchange
};

void fetch_through_proxy(const boost::asio::any_io_executor& executor, EgressRequest request,
                         std::function<void(EgressResult)> done);

}  // namespace porthole::loadtest
