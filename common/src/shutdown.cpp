#include "porthole/common/shutdown.hpp"

#include <csignal>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "porthole/common/logging.hpp"

namespace porthole {

void run_until_signalled(boost::asio::io_context& io, Duration drain, const std::function<void()>& begin_shutdown,
                         const std::function<bool()>& drained) {
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::steady_timer deadline(io);
  auto log = logger("main");
  bool shutting_down = false;
  bool done = false;

  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        if (shutting_down) {
          log->warn("second signal ({}): stopping now", signo);
          done = true;
          return;
        }
        shutting_down = true;
        log->info("signal {}: shutting down, draining for at most {} ms", signo,
                  std::chrono::duration_cast<std::chrono::milliseconds>(drain).count());
        begin_shutdown();
        deadline.expires_after(drain);
        deadline.async_wait([&](const boost::system::error_code& e) {
          if (e) return;
          log->warn("drain deadline reached with work in flight; stopping");
          done = true;
        });
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);

  while (!done && !io.stopped()) {
    if (shutting_down && drained()) {
      log->info("drained; exiting");
      break;
    }
    io.run_one();
  }
}

Duration read_shutdown_config(ConfigNode node) {
  const auto drain = node.duration("drain_timeout", std::chrono::seconds(5), Duration::zero(), std::chrono::hours(1));
  node.reject_unknown_keys();
  return drain;
}

}  // namespace porthole
