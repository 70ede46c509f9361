#include "porthole/common/asio_time.hpp"

#include <boost/asio/steady_timer.hpp>

namespace porthole {
namespace {

class AsioTimer final : public Timer {
 public:
  explicit AsioTimer(const boost::asio::any_io_executor& executor)
      : timer_(executor), generation_(std::make_shared<std::uint64_t>(0)) {}
  ~AsioTimer() override { cancel(); }

  void arm(Duration after, std::function<void()> callback) override {
    cancel();
    armed_ = true;
    // A generation number, not just operation_aborted: a completion that was already queued
    // when we cancelled must still be ignored.
    auto expected = *generation_;
    timer_.expires_after(after);
    timer_.async_wait([this, gen = generation_, expected, cb = std::move(callback)](
                          const boost::system::error_code& ec) {
      if (ec || *gen != expected) return;
      armed_ = false;
      cb();
    });
  }
  void cancel() override {
    ++*generation_;
    armed_ = false;
    timer_.cancel();
  }
  bool armed() const override { return armed_; }

 private:
  boost::asio::steady_timer timer_;
  std::shared_ptr<std::uint64_t> generation_;
  bool armed_ = false;
};

}  // namespace

std::unique_ptr<Timer> AsioTimeSource::make_timer() { return std::make_unique<AsioTimer>(executor_); }

}  // namespace porthole
