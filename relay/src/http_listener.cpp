#include "porthole/relay/http_listener.hpp"

#include <stdexcept>

#include <boost/asio/ip/address.hpp>

#include "porthole/relay/address.hpp"

namespace porthole::relay {

using tcp = boost::asio::ip::tcp;

HttpListener::HttpListener(boost::asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log, Open open,
                           Refused refused)
    : log_(std::move(log)),
      open_(std::move(open)),
      refused_(std::move(refused)),
      acceptor_(executor),
      pause_(executor) {}

HttpListener::~HttpListener() { stop(); }

void HttpListener::start(Options options) {
  options_ = std::move(options);
  tcp::endpoint endpoint;
  try {
    endpoint = tcp_endpoint(options_.listen).to_tcp();
  } catch (const ConfigError& e) {
    throw std::runtime_error(options_.setting + ": " + e.what());
  }
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(128, ec);
  if (ec) throw std::runtime_error(options_.setting + ": cannot listen on " + options_.listen + ": " + ec.message());
  accept_next();
}

void HttpListener::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  pause_.cancel();
  for (auto& weak : sessions_) {
    if (auto session = weak.lock()) session->close_if_idle();
  }
  sessions_.clear();
}

tcp::endpoint HttpListener::local_endpoint() const { return acceptor_.local_endpoint(); }

void HttpListener::accept_next() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (stopped_ || ec == boost::asio::error::operation_aborted) return;
    if (ec) {
      // EMFILE and the like: pause instead of spinning; open connections keep being served.
      log_->warn("{}: accept failed: {}; pausing for 100 ms", options_.setting, ec.message());
      pause_.expires_after(std::chrono::milliseconds(100));
      pause_.async_wait([this](const boost::system::error_code& e) {
        if (!e && !stopped_) accept_next();
      });
      return;
    }
    if (*active_ >= static_cast<int>(options_.max_connections)) {
      // Closing at once tells a client to retry later; queued requests would only time out.
      log_->warn("{}: {} connections open ({}); refusing one", options_.setting, *active_,
                 options_.max_connections_setting);
      if (refused_) refused_();
    } else {
      std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
      sessions_.push_back(open_(std::move(socket), active_));
    }
    accept_next();
  });
}

}  // namespace porthole::relay
