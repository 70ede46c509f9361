// The agent's own log lines join the log pipeline: an spdlog sink that turns each record into an
// OTLP log record (service.name porthole-agent, scope = the component) and submits it to an
// ItemSink, next to the workload's lines. In a production enclave there is no console, so this
// is how an operator reads what the agent said.
//
// Bounded and non-blocking (ItemSink::submit never blocks; what it refuses is counted there).
// Never recursive: a record logged while one is being submitted on the same thread (the
// pipeline itself warning about a full queue) is not forwarded, only written to stderr.
#pragma once

#include <memory>

#include <spdlog/common.h>

#include "porthole/telemetry/item_sink.hpp"

namespace porthole::agent {

class AgentLogForwarder {
 public:
  // Attaches to every component logger (present and future) for records at `level` and above.
  AgentLogForwarder(telemetry::ItemSink<telemetry::LogItem>& sink, spdlog::level::level_enum level);
  ~AgentLogForwarder();  // detaches: no record is submitted to `sink` afterwards
  AgentLogForwarder(const AgentLogForwarder&) = delete;
  AgentLogForwarder& operator=(const AgentLogForwarder&) = delete;

  class Sink;

 private:
  std::shared_ptr<Sink> sink_;
};

// spdlog's level as an OTLP SeverityNumber (TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17, FATAL 21).
int severity_number(spdlog::level::level_enum level);

}  // namespace porthole::agent
