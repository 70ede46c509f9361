// An io_context with a thread of its own, for work that must not queue behind (or hold up) the
// main event loop: the agent's OTLP receiver decodes requests of hundreds of spans, and on the
// main loop the telemetry channel's acks waited behind them (bench/telemetry measured export
// round trips of 4-7 ms that way, which capped the pipeline far below its CPU cost).
#pragma once

#include <memory>
#include <thread>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace porthole {

class IoThread {
 public:
  IoThread() = default;
  ~IoThread() { join(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  boost::asio::any_io_executor executor() { return io_.get_executor(); }
  boost::asio::io_context& context() { return io_; }

  // Runs the loop on a new thread until release() and the loop's work is done, or join().
  void start() {
    if (thread_.joinable()) return;
    guard_ = std::make_unique<Guard>(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }
  // Lets the loop end once its pending work is done.
  void release() { guard_.reset(); }
  // Stops the loop (pending handlers are abandoned) and waits for the thread.
  void join() {
    guard_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  boost::asio::io_context io_{1};
  // A unique_ptr, not a std::optional: GCC 12 at -O2 warns (maybe-uninitialized, a false
  // positive) when an optional work guard is reset in inlined code.
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::unique_ptr<Guard> guard_;
  std::thread thread_;
};

}  // namespace porthole
