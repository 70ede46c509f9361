#include "porthole/ntp/chrony.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "porthole/common/file_util.hpp"
#include "porthole/common/logging.hpp"
#include "porthole/common/subprocess.hpp"

namespace porthole::ntp {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool to_double(std::string_view s, double& out) {
  std::string copy(s);
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);
  return !copy.empty() && end == copy.c_str() + copy.size();
}

prometheus::Gauge& chrony_gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Labels({{"side", "enclave"}}).Register(r).Add({});
}

}  // namespace

std::optional<ChronyTracking> parse_chrony_tracking_csv(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  std::vector<std::string_view> f;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ',') {
      f.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  }
  // refid, name, stratum, ref time, system time, last offset, rms offset, frequency, residual
  // frequency, skew, root delay, root dispersion, update interval, leap status
  if (f.size() != 14) return std::nullopt;
  ChronyTracking t;
  double stratum = 0, system_time = 0;
  if (!to_double(f[2], stratum) || !to_double(f[4], system_time) || !to_double(f[5], t.last_offset) ||
      !to_double(f[6], t.rms_offset) || !to_double(f[7], t.frequency_ppm)) {
    return std::nullopt;
  }
  t.stratum = static_cast<int>(stratum);
  // chronyc -c prints the correction still to apply (positive = the clock is slow); we report
  // the clock minus NTP time, like porthole_ntp_clock_offset_seconds.
  t.system_time_offset = -system_time;
  if (f[13] == "Normal") t.leap_status = 0;
  else if (f[13] == "Insert second") t.leap_status = 1;
  else if (f[13] == "Delete second") t.leap_status = 2;
  else t.leap_status = 3;
  return t;
}

std::string render_chrony_config(std::string text, const std::string& relay_address, std::uint16_t relay_port,
                                 const std::string& runtime_dir) {
  auto replace_all = [&text](const std::string& from, const std::string& to) {
    for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
      text.replace(pos, from.size(), to);
    }
  };
  replace_all("@RELAY_ADDRESS@", relay_address);
  replace_all("@RELAY_PORT@", std::to_string(relay_port));
  replace_all("@RUNTIME_DIR@", runtime_dir);
  return text;
}

ChronyMonitor::ChronyMonitor(boost::asio::any_io_executor executor, TimeSource& time, std::string chronyc,
                             std::string socket, Duration interval, prometheus::Registry& registry)
    : executor_(std::move(executor)),
      time_(time),
      chronyc_(std::move(chronyc)),
      socket_(std::move(socket)),
      interval_(interval),
      log_(logger("ntp")),
      timer_(time.make_timer()),
      up_(chrony_gauge(registry, "porthole_chrony_up", "1 if chronyc tracking could be read from chronyd.")),
      system_time_offset_(chrony_gauge(registry, "porthole_chrony_system_time_offset_seconds",
                                       "chronyd's System time: the clock minus NTP time (NaN when unknown).")),
      last_offset_(chrony_gauge(registry, "porthole_chrony_last_offset_seconds", "chronyd's last measured offset.")),
      rms_offset_(chrony_gauge(registry, "porthole_chrony_rms_offset_seconds", "chronyd's RMS offset.")),
      frequency_(chrony_gauge(registry, "porthole_chrony_frequency_ppm", "chronyd's frequency figure (ppm).")),
      stratum_(chrony_gauge(registry, "porthole_chrony_stratum", "chronyd's stratum.")),
      leap_(chrony_gauge(registry, "porthole_chrony_leap_status",
                         "chronyd's leap status: 0 normal, 1 insert, 2 delete, 3 unsynchronised.")) {
  unknown();
}

ChronyMonitor::~ChronyMonitor() { stop(); }

void ChronyMonitor::unknown() {
  up_.Set(0);
  for (auto* g : {&system_time_offset_, &last_offset_, &rms_offset_, &frequency_, &stratum_, &leap_}) g->Set(kNaN);
}

void ChronyMonitor::start() { timer_->arm(std::chrono::milliseconds(500), [this] { poll(); }); }

void ChronyMonitor::stop() {
  *alive_ = false;
  timer_->cancel();
}

void ChronyMonitor::poll() {
  std::weak_ptr<bool> alive = alive_;
  run_command(executor_, time_, {chronyc_, "-h", socket_, "-c", "-n", "tracking"}, std::chrono::seconds(3), 4096,
              [this, alive](CommandResult r) {
                if (auto a = alive.lock(); !a || !*a) return;
                auto tracking = r.exit_code == 0 ? parse_chrony_tracking_csv(r.output) : std::nullopt;
                if (!tracking) {
                  if (!warned_) {
                    log_->warn("ntp: cannot read chrony tracking from {} ({}{})", socket_,
                               r.error.empty() ? "exit " + std::to_string(r.exit_code) : r.error,
                               r.output.empty() ? "" : ": " + r.output.substr(0, 200));
                    warned_ = true;
                  }
                  unknown();
                } else {
                  warned_ = false;
                  up_.Set(1);
                  system_time_offset_.Set(tracking->system_time_offset);
                  last_offset_.Set(tracking->last_offset);
                  rms_offset_.Set(tracking->rms_offset);
                  frequency_.Set(tracking->frequency_ppm);
                  stratum_.Set(tracking->stratum);
                  leap_.Set(tracking->leap_status);
                }
                timer_->arm(interval_, [this] { poll(); });
              });
}

ChronydSupervisor::ChronydSupervisor(TimeSource& time, const ChronydConfig& config, std::string relay_address,
                                     std::uint16_t relay_port, std::function<double()> uniform01)
    : time_(time),
      config_(config),
      relay_address_(std::move(relay_address)),
      relay_port_(relay_port),
      log_(logger("ntp")),
      backoff_(BackoffPolicy{std::chrono::seconds(1), std::chrono::seconds(60), 2.0}, std::move(uniform01)),
      timer_(time.make_timer()) {}

ChronydSupervisor::~ChronydSupervisor() { stop(); }

void ChronydSupervisor::start() {
  std::ifstream in(config_.config_template);
  if (!in) {
    throw std::runtime_error("ntp.chronyd.config_template: cannot read " + config_.config_template + ": " +
                             std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::error_code ec;
  std::filesystem::create_directories(config_.runtime_dir, ec);
  // chronyd refuses a command-socket directory others can write to.
  if (ec || ::chmod(config_.runtime_dir.c_str(), 0700) != 0) {
    throw std::runtime_error("ntp.chronyd.runtime_dir: cannot create " + config_.runtime_dir);
  }
  write_file_atomically(config_.runtime_dir + "/chrony.conf",
                        render_chrony_config(ss.str(), relay_address_, relay_port_, config_.runtime_dir));
  launch();
}

void ChronydSupervisor::launch() {
  std::vector<std::string> argv{config_.path, "-d", "-u", "root", "-f", config_.runtime_dir + "/chrony.conf"};
  if (!config_.adjust_clock) argv.push_back("-x");
  std::string error;
  pid_ = spawn_process(argv, error);
  started_ = time_.now();
  if (pid_ < 0) {
    const auto delay = backoff_.next();
    log_->error("ntp: {}; retrying in {} ms", error, std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
    timer_->arm(delay, [this] { launch(); });
    return;
  }
  log_->info("ntp: started chronyd (pid {})", pid_);
  timer_->arm(std::chrono::seconds(1), [this] { check(); });
}

void ChronydSupervisor::check() {
  auto status = reap_process(pid_);
  if (!status) {
    timer_->arm(std::chrono::seconds(1), [this] { check(); });
    return;
  }
  pid_ = -1;
  if (time_.now() - started_ > std::chrono::minutes(1)) backoff_.reset();
  const auto delay = backoff_.next();
  log_->error("ntp: chronyd exited with status {}; restarting in {} ms", *status,
              std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
  timer_->arm(delay, [this] { launch(); });
}

void ChronydSupervisor::stop() {
  if (stopped_) return;
  stopped_ = true;
  timer_->cancel();
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  // Bounded: chronyd exits at once on SIGTERM; the rare straggler is killed.
  for (int i = 0; i < 200 && !reap_process(pid_); ++i) ::usleep(10'000);
  if (!reap_process(pid_)) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
}

}  // namespace porthole::ntp
