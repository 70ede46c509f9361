#include "porthole/relay/accept_loop.hpp"

namespace porthole::relay {

AcceptLoop::AcceptLoop(Acceptor& acceptor, TimeSource& time, std::shared_ptr<spdlog::logger> log, std::string what,
                       Accepted accepted)
    : acceptor_(acceptor),
      pause_(time.make_timer()),
      log_(std::move(log)),
      what_(std::move(what)),
      accepted_(std::move(accepted)) {}

void AcceptLoop::start() { next(); }

void AcceptLoop::stop() {
  *alive_ = false;
  pause_->cancel();
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void AcceptLoop::next() {
  std::weak_ptr<bool> alive = alive_;
  acceptor_.async_accept([this, alive](const boost::system::error_code& ec, Stream stream) {
    if (auto a = alive.lock(); !a || !*a || ec == boost::asio::error::operation_aborted) return;
    if (!ec) {
      accepted_(std::move(stream));
      return next();
    }
    log_->warn("{}: accept failed: {}; pausing this listener for 100 ms", what_, ec.message());
    pause_->arm(std::chrono::milliseconds(100), [this] { next(); });
  });
}

}  // namespace porthole::relay
