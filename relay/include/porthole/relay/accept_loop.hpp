// The accept loop every listener uses. An accept error (EMFILE when descriptors run out,
// ENOBUFS...) pauses this listener for a moment instead of retrying in a busy loop, logs once
// per pause, and the listener keeps going: the connections already open keep being served.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "porthole/common/time.hpp"
#include "porthole/relay/stream.hpp"

namespace porthole::relay {

class AcceptLoop {
 public:
  using Accepted = std::function<void(Stream)>;
  AcceptLoop(Acceptor& acceptor, TimeSource& time, std::shared_ptr<spdlog::logger> log, std::string what,
             Accepted accepted);
  void start();
  void stop();  // closes the acceptor

 private:
  void next();

  Acceptor& acceptor_;
  std::unique_ptr<Timer> pause_;
  std::shared_ptr<spdlog::logger> log_;
  std::string what_;
  Accepted accepted_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace porthole::relay
