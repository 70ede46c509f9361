// The agent as the workload's supervisor (optional: `workload.command`). It starts the workload
// in its own process group with stdout and stderr on pipes, turns every line into an OTLP log
// record for the log pipeline (an ItemSink, which never blocks and counts its own drops), reports
// every exit (log line + metrics), restarts it per policy with backoff, forwards SIGHUP, SIGUSR1
// and SIGUSR2 to it, and on stop() sends SIGTERM, then SIGKILL after stop_timeout.
//
// Nothing is echoed to the agent's stderr: a production enclave has no console, and the lines
// leave only through the log pipeline (and its telemetry policy).
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/agent/workload_config.hpp"
#include "porthole/common/backoff.hpp"
#include "porthole/common/time.hpp"
#include "porthole/telemetry/item_sink.hpp"

namespace porthole::agent {

class WorkloadSupervisor {
 public:
  WorkloadSupervisor(boost::asio::any_io_executor executor, TimeSource& time, const WorkloadConfig& config,
                     telemetry::ItemSink<telemetry::LogItem>& logs, prometheus::Registry& registry,
                     std::function<double()> uniform01, bool forward_signals = true);
  ~WorkloadSupervisor();  // a workload still running is killed (SIGKILL) and reaped
  WorkloadSupervisor(const WorkloadSupervisor&) = delete;
  WorkloadSupervisor& operator=(const WorkloadSupervisor&) = delete;

  void start();
  // SIGTERM to the workload's process group, SIGKILL after stop_timeout; no more restarts.
  void stop();
  // stop() was called and the workload has exited (or never ran): the agent may exit.
  bool finished() const { return stopping_ && pid_ < 0; }
  // Sends `signo` to the workload's process group; false when no workload runs.
  bool forward_signal(int signo);

  pid_t pid() const { return pid_; }  // -1 when not running
  std::uint64_t exits() const { return exits_; }
  std::optional<int> last_exit_status() const { return last_status_; }  // code, or 128 + signal
  bool restart_pending() const { return restart_timer_->armed(); }

 private:
  class StreamReader;

  void launch();
  void watch_exit();
  void on_reaped(int wait_status);
  void on_stream_closed(std::uint64_t run);
  void report_exit();
  void after_failure_to_run(bool failed);
  void on_line(const std::string& stream, std::string line, bool split);
  void listen_for_signals();

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  const WorkloadConfig& config_;
  telemetry::ItemSink<telemetry::LogItem>& logs_;
  std::shared_ptr<spdlog::logger> log_;
  Backoff backoff_;
  std::unique_ptr<Timer> restart_timer_;
  std::unique_ptr<Timer> kill_timer_;
  std::unique_ptr<Timer> grace_timer_;
  std::optional<boost::asio::signal_set> signals_;
  std::shared_ptr<const telemetry::ItemOrigin> origin_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  pid_t pid_ = -1;
  pid_t group_ = -1;  // the exited run's process group, until its exit is reported
  std::optional<boost::asio::posix::stream_descriptor> pidfd_;
  std::uint64_t run_ = 0;          // the current run's number; stream readers carry theirs
  int open_streams_ = 0;           // of the current run
  std::optional<int> wait_status_;  // reaped, exit not yet reported (waiting for its last lines)
  MonoTime started_;
  bool stopping_ = false;
  bool started_once_ = false;
  std::uint64_t exits_ = 0;
  std::optional<int> last_status_;

  prometheus::Gauge& running_;
  prometheus::Counter& restarts_;
  prometheus::Counter& start_errors_;
  prometheus::Family<prometheus::Counter>& exits_family_;
  prometheus::Gauge& last_exit_code_;
  prometheus::Family<prometheus::Counter>& lines_family_;
  prometheus::Family<prometheus::Counter>& split_family_;
  prometheus::Family<prometheus::Counter>& dropped_family_;
};

}  // namespace porthole::agent
