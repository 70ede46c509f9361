// The listening half of the small HTTP servers on TCP (the sidecar's admin port, the agent's OTLP
// receiver): binds "host:port" (a numeric address or localhost; errors name the setting),
// accepts with a 100 ms pause after an error (EMFILE) instead of spinning, closes connections
// beyond a cap at once, and keeps weak references to its sessions so that stop() can close the
// idle ones while requests in flight finish. What a session does is the server's business.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

namespace porthole::relay {

class HttpSession {
 public:
  virtual ~HttpSession() = default;
  // Closes the connection if it is waiting for a request; one in progress finishes.
  virtual void close_if_idle() = 0;
};

class HttpListener {
 public:
  struct Options {
    std::string listen;   // host:port
    std::string setting;  // the config key named in errors, e.g. "admin.listen"
    std::size_t max_connections = 64;
    std::string max_connections_setting;  // e.g. "admin.max_connections", for the warning
  };
  // Makes and starts a session for an accepted connection; `active` is shared with the session,
  // which increments it while it lives.
  using Open = std::function<std::shared_ptr<HttpSession>(boost::asio::ip::tcp::socket, std::shared_ptr<int> active)>;
  using Refused = std::function<void()>;

  HttpListener(boost::asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log, Open open,
               Refused refused = {});
  ~HttpListener();

  // Binds and starts accepting; throws std::runtime_error naming options.setting when it can't.
  void start(Options options);
  void stop();  // stops accepting and closes idle connections
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  int open_connections() const { return *active_; }

 private:
  void accept_next();

  Options options_;
  std::shared_ptr<spdlog::logger> log_;
  Open open_;
  Refused refused_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer pause_;
  std::shared_ptr<int> active_ = std::make_shared<int>(0);  // shared with sessions, outlives us
  std::vector<std::weak_ptr<HttpSession>> sessions_;
  bool stopped_ = false;
};

}  // namespace porthole::relay
