// chronyd inside the enclave: reading its tracking figures (`chronyc -c tracking`) into
// metrics, and optionally running chronyd itself, supervised, from the bundled template.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/logger.h>

#include "porthole/common/backoff.hpp"
#include "porthole/common/time.hpp"
#include "porthole/ntp/config.hpp"

namespace porthole::ntp {

struct ChronyTracking {
  int stratum = 0;
  double system_time_offset = 0;  // the clock minus NTP time (chronyc's "System time", signed)
  double last_offset = 0;
  double rms_offset = 0;
  double frequency_ppm = 0;
  int leap_status = 3;  // 0 normal, 1 insert second, 2 delete second, 3 not synchronised
};

// Parses one line of `chronyc -c tracking`; nothing if it is not one.
std::optional<ChronyTracking> parse_chrony_tracking_csv(std::string_view line);

// Renders the bundled chrony.conf template (@RELAY_ADDRESS@, @RELAY_PORT@, @RUNTIME_DIR@).
std::string render_chrony_config(std::string text, const std::string& relay_address, std::uint16_t relay_port,
                                 const std::string& runtime_dir);

// Polls chronyc every `interval` and exports porthole_chrony_* (NaN while unknown).
class ChronyMonitor {
 public:
  ChronyMonitor(boost::asio::any_io_executor executor, TimeSource& time, std::string chronyc, std::string socket,
                Duration interval, prometheus::Registry& registry);
  ~ChronyMonitor();
  void start();
  void stop();

 private:
  void poll();
  void unknown();

  boost::asio::any_io_executor executor_;
  TimeSource& time_;
  std::string chronyc_;
  std::string socket_;
  Duration interval_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<Timer> timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool warned_ = false;
  prometheus::Gauge& up_;
  prometheus::Gauge& system_time_offset_;
  prometheus::Gauge& last_offset_;
  prometheus::Gauge& rms_offset_;
  prometheus::Gauge& frequency_;
  prometheus::Gauge& stratum_;
  prometheus::Gauge& leap_;
};

// Runs chronyd in the foreground as a child, restarting it with backoff when it exits.
class ChronydSupervisor {
 public:
  ChronydSupervisor(TimeSource& time, const ChronydConfig& config, std::string relay_address, std::uint16_t relay_port,
                    std::function<double()> uniform01);
  ~ChronydSupervisor();
  // Writes the config into runtime_dir and starts chronyd; throws std::runtime_error.
  void start();
  void stop();  // SIGTERM, then SIGKILL after 2 s
  std::string command_socket() const { return config_.runtime_dir + "/chronyd.sock"; }

 private:
  void launch();
  void check();

  TimeSource& time_;
  const ChronydConfig& config_;
  std::string relay_address_;
  std::uint16_t relay_port_;
  std::shared_ptr<spdlog::logger> log_;
  Backoff backoff_;
  std::unique_ptr<Timer> timer_;
  pid_t pid_ = -1;
  MonoTime started_;
  bool stopped_ = false;
};

}  // namespace porthole::ntp
