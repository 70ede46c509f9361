// Dials one boundary endpoint until it connects — forever, with exponential backoff, jitter and
// a connect timeout — for every channel the agent opens to the sidecar (control, ntp, ...).
// Counts attempts by result and exposes the current delay, per channel.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/common/backoff.hpp"
#include "porthole/common/time.hpp"
#include "porthole/relay/address.hpp"
#include "porthole/relay/stream.hpp"

namespace porthole::relay {

struct DialerOptions {
  std::string channel;  // "control", "ntp": the metric label and log prefix
  Endpoint endpoint;
  StreamOptions stream;
  BackoffPolicy backoff;
  Duration connect_timeout = std::chrono::seconds(5);
};

class Dialer {
 public:
  using Connected = std::function<void(Stream)>;

  Dialer(boost::asio::any_io_executor executor, TimeSource& time, DialerOptions options,
         prometheus::Registry& registry, const std::string& side, std::function<double()> uniform01,
         std::shared_ptr<spdlog::logger> log);
  ~Dialer();

  // Dials now; calls `connected` with the stream once a connection is made.
  void dial(Connected connected);
  // After a lost connection: dials again after the next backoff delay. `was_healthy` (the
  // connection lasted) starts the backoff over.
  void redial(Connected connected, const std::string& why, bool was_healthy);
  void stop();

 private:
  void attempt();
  void retry_later(const std::string& why);

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  DialerOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  Backoff backoff_;
  std::unique_ptr<Timer> retry_timer_;
  std::unique_ptr<Timer> connect_timer_;
  std::unique_ptr<Stream> dialling_;
  Connected connected_;
  prometheus::Counter& ok_;
  prometheus::Counter& failed_;
  prometheus::Gauge& delay_;
  bool stopped_ = false;
};

}  // namespace porthole::relay
