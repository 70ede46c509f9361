// A bounded HTTP/1.1 keep-alive server (Beast): listener -> session per connection, every
// session on its own strand, so `--threads N` runs N io threads over the same acceptor.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "http_types.hpp"

namespace porthole::loadtest {

struct ServerLimits {
  std::size_t header_limit = 16 * 1024;
  std::uint64_t body_limit = 16 * 1024 * 1024;
  std::chrono::seconds request_timeout{30};
  std::size_t max_connections = 10000;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& listen, const ServerLimits& limits,
             RequestHandler& handler);
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  void stop();

 private:
  class Session;
  void accept_next();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  ServerLimits limits_;
  RequestHandler& handler_;
  std::shared_ptr<std::atomic<std::size_t>> active_ = std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace porthole::loadtest
