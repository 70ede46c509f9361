// The production TimeSource: steady/system clocks and timers on a Boost.Asio executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include "porthole/common/time.hpp"

namespace porthole {

class AsioTimeSource final : public TimeSource {
 public:
  explicit AsioTimeSource(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
  MonoTime now() const override { return MonoClock::now(); }
  std::chrono::system_clock::time_point system_now() const override {
    return std::chrono::system_clock::now();
  }
  std::unique_ptr<Timer> make_timer() override;

 private:
  boost::asio::any_io_executor executor_;
};

}  // namespace porthole
