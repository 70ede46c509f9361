#include "porthole/agent/workload_supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "porthole/agent/line_splitter.hpp"
#include "porthole/common/logging.hpp"

extern char** environ;

namespace porthole::agent {
namespace {

constexpr std::int32_t kSeverityInfo = 9;   // SeverityNumber INFO
constexpr std::int32_t kSeverityWarn = 13;  // SeverityNumber WARN
constexpr const char* kStreams[] = {"stdout", "stderr"};
// After the workload exits, its last lines may still be in the pipes: the exit is reported
// once both pipes are closed, or after this long (a grandchild may hold them open).
constexpr auto kExitGrace = std::chrono::seconds(1);

std::vector<std::string> environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('='));
    if (!overrides.count(std::string(name))) out.emplace_back(entry);
  }
  for (const auto& [k, v] : overrides) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// posix_spawnp: stdin /dev/null, stdout/stderr onto the pipes, no other descriptor of the agent
// (vsock/uds sessions) inherited, default signal dispositions, its own process group.
pid_t spawn_workload(const WorkloadConfig& config, int out_fd, int err_fd, std::string& error) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (!config.working_dir.empty()) posix_spawn_file_actions_addchdir_np(&actions, config.working_dir.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  auto argv_strings = config.command;
  auto env_strings = environment(config.env);
  auto argv = c_strings(argv_strings);
  auto envp = c_strings(env_strings);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    error = "cannot run " + config.command.front() + ": " + std::strerror(rc);
    return -1;
  }
  return pid;
}

std::string describe(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const char* name = sigabbrev_np(WTERMSIG(wait_status));
    return "was killed by signal " + std::to_string(WTERMSIG(wait_status)) +
           (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
}

}  // namespace

// Reads one pipe to EOF, line by line; outlives the run (and the supervisor) safely.
class WorkloadSupervisor::StreamReader : public std::enable_shared_from_this<StreamReader> {
 public:
  StreamReader(boost::asio::any_io_executor executor, int fd, WorkloadSupervisor& owner, std::string stream,
               std::uint64_t run, std::size_t max_line)
      : pipe_(executor, fd), owner_(owner), alive_(owner.alive_), stream_(std::move(stream)), run_(run),
        splitter_(max_line) {}

  void read() {
    pipe_.async_read_some(boost::asio::buffer(buffer_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                                    std::size_t n) {
      if (self->alive_.expired()) return;
      auto emit = [&](std::string line, bool split) { self->owner_.on_line(self->stream_, std::move(line), split); };
      if (!ec) {
        self->splitter_.feed(std::string_view(self->buffer_.data(), n), emit);
        return self->read();
      }
      self->splitter_.finish(emit);
      self->owner_.on_stream_closed(self->run_);
    });
  }

 private:
  boost::asio::posix::stream_descriptor pipe_;
  WorkloadSupervisor& owner_;
  std::weak_ptr<bool> alive_;
  std::string stream_;
  std::uint64_t run_;
  LineSplitter splitter_;
  std::array<char, 64 * 1024> buffer_{};
};

WorkloadSupervisor::WorkloadSupervisor(boost::asio::any_io_executor executor, TimeSource& time,
                                       const WorkloadConfig& config, telemetry::ItemSink<telemetry::LogItem>& logs,
                                       prometheus::Registry& registry, std::function<double()> uniform01,
                                       bool forward_signals)
    : executor_(executor),
      time_(time),
      config_(config),
      logs_(logs),
      log_(logger("workload")),
      backoff_(config.restart_backoff, std::move(uniform01)),
      restart_timer_(time.make_timer()),
      kill_timer_(time.make_timer()),
      grace_timer_(time.make_timer()),
      running_(prometheus::BuildGauge()
                   .Name("porthole_workload_running")
                   .Help("1 while the supervised workload process runs, else 0.")
                   .Register(registry)
                   .Add({})),
      restarts_(prometheus::BuildCounter()
                    .Name("porthole_workload_restarts_total")
                    .Help("Times the supervised workload was started again after it exited.")
                    .Register(registry)
                    .Add({})),
      start_errors_(prometheus::BuildCounter()
                        .Name("porthole_workload_start_errors_total")
                        .Help("Attempts to start the workload that failed (program not found, not executable).")
                        .Register(registry)
                        .Add({})),
      exits_family_(prometheus::BuildCounter()
                        .Name("porthole_workload_exits_total")
                        .Help("Exits of the supervised workload: by exit status (exit) or by a signal (signal).")
                        .Register(registry)),
      last_exit_code_(prometheus::BuildGauge()
                          .Name("porthole_workload_last_exit_code")
                          .Help("The workload's last exit status; 128 + N when killed by signal N.")
                          .Register(registry)
                          .Add({})),
      lines_family_(prometheus::BuildCounter()
                        .Name("porthole_workload_log_lines_total")
                        .Help("Lines read from the workload's stdout and stderr (pieces of split lines count).")
                        .Register(registry)),
      split_family_(prometheus::BuildCounter()
                        .Name("porthole_workload_log_lines_split_total")
                        .Help("Workload lines longer than workload.max_line_bytes, cut into pieces.")
                        .Register(registry)),
      dropped_family_(prometheus::BuildCounter()
                          .Name("porthole_workload_log_lines_dropped_total")
                          .Help("Workload lines the log pipeline refused (its queue was full).")
                          .Register(registry)) {
  for (const char* r : {"exit", "signal"}) exits_family_.Add({{"reason", r}});
  for (const char* s : kStreams) {
    lines_family_.Add({{"stream", s}});
    split_family_.Add({{"stream", s}});
    dropped_family_.Add({{"stream", s}});
  }
  auto origin = std::make_shared<telemetry::ItemOrigin>();
  origin->resource.attributes.push_back({"service.name", config.service_name});
  origin->scope.name = "porthole.workload";
  origin_ = std::move(origin);
  if (forward_signals) signals_.emplace(executor_, SIGHUP, SIGUSR1, SIGUSR2);
}

WorkloadSupervisor::~WorkloadSupervisor() {
  *alive_ = false;
  restart_timer_->cancel();
  kill_timer_->cancel();
  grace_timer_->cancel();
  signals_.reset();
  pidfd_.reset();
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

void WorkloadSupervisor::start() {
  listen_for_signals();
  launch();
}

void WorkloadSupervisor::listen_for_signals() {
  if (!signals_) return;
  std::weak_ptr<bool> alive = alive_;
  signals_->async_wait([this, alive](const boost::system::error_code& ec, int signo) {
    if (ec || alive.expired()) return;
    if (forward_signal(signo)) log_->info("workload: forwarded signal {} to the workload (pid {})", signo, pid_);
    listen_for_signals();
  });
}

void WorkloadSupervisor::launch() {
  if (stopping_) return;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    log_->error("workload: pipe: {}", std::strerror(errno));
    return after_failure_to_run(true);
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    log_->error("workload: pipe: {}", std::strerror(errno));
    ::close(out[0]);
    ::close(out[1]);
    return after_failure_to_run(true);
  }
  std::string error;
  const pid_t pid = spawn_workload(config_, out[1], err[1], error);
  ::close(out[1]);
  ::close(err[1]);
  started_ = time_.now();
  if (started_once_) restarts_.Increment();
  started_once_ = true;
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    start_errors_.Increment();
    log_->error("workload: {}", error);
    return after_failure_to_run(true);
  }
  pid_ = pid;
  ++run_;
  open_streams_ = 2;
  wait_status_.reset();
  running_.Set(1);
  log_->info("workload: started {} (pid {})", config_.command.front(), pid_);
  std::make_shared<StreamReader>(executor_, out[0], *this, "stdout", run_, config_.max_line_bytes)->read();
  std::make_shared<StreamReader>(executor_, err[0], *this, "stderr", run_, config_.max_line_bytes)->read();
  watch_exit();
}

void WorkloadSupervisor::watch_exit() {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (fd < 0) {
    // Not expected on any kernel we run on (5.3+); without it we could not see the exit.
    log_->critical("workload: pidfd_open: {}; killing the workload", std::strerror(errno));
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    return on_reaped(status);
  }
  pidfd_.emplace(executor_, fd);
  std::weak_ptr<bool> alive = alive_;
  pidfd_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [this, alive](const boost::system::error_code& ec) {
                       if (ec || alive.expired() || pid_ < 0) return;
                       int status = 0;
                       const pid_t r = ::waitpid(pid_, &status, WNOHANG);
                       if (r == 0) return watch_exit();  // not yet (should not happen)
                       on_reaped(r < 0 ? 0 : status);
                     });
}

void WorkloadSupervisor::on_reaped(int wait_status) {
  group_ = pid_;
  pid_ = -1;
  pidfd_.reset();
  kill_timer_->cancel();
  running_.Set(0);
  wait_status_ = wait_status;
  if (open_streams_ == 0) return report_exit();
  std::weak_ptr<bool> alive = alive_;
  grace_timer_->arm(kExitGrace, [this, alive] {
    if (!alive.expired() && wait_status_) report_exit();
  });
}

void WorkloadSupervisor::on_stream_closed(std::uint64_t run) {
  if (run != run_) return;
  if (--open_streams_ == 0 && wait_status_) {
    grace_timer_->cancel();
    report_exit();
  }
}

void WorkloadSupervisor::report_exit() {
  const int status = *wait_status_;
  wait_status_.reset();
  // What is left of the process group (children that outlived the workload, maybe holding its
  // pipes or ports) goes with it, as systemd's KillMode=control-group does; ESRCH when empty.
  if (group_ > 0) ::kill(-group_, SIGKILL);
  group_ = -1;
  ++exits_;
  const bool signalled = WIFSIGNALED(status);
  last_status_ = signalled ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  exits_family_.Add({{"reason", signalled ? "signal" : "exit"}}).Increment();
  last_exit_code_.Set(*last_status_);
  const bool failed = signalled || WEXITSTATUS(status) != 0;
  if (stopping_) {
    log_->info("workload: {} (stopping)", describe(status));
    return;
  }
  if (failed) log_->warn("workload: {} after {} s", describe(status),
                         std::chrono::duration_cast<std::chrono::seconds>(time_.now() - started_).count());
  else log_->info("workload: {}", describe(status));
  after_failure_to_run(failed);
}

void WorkloadSupervisor::after_failure_to_run(bool failed) {
  const bool restart =
      config_.restart == RestartPolicy::Always || (config_.restart == RestartPolicy::OnFailure && failed);
  if (!restart || stopping_) {
    log_->log(failed ? spdlog::level::warn : spdlog::level::info, "workload: not restarted (restart: {})",
              to_string(config_.restart));
    return;
  }
  // A run that lasted a while was healthy: the next failure starts the backoff over.
  if (time_.now() - started_ >= config_.restart_backoff.max) backoff_.reset();
  const auto delay = backoff_.next();
  log_->info("workload: restarting in {} ms", std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
  std::weak_ptr<bool> alive = alive_;
  restart_timer_->arm(delay, [this, alive] {
    if (!alive.expired()) launch();
  });
}

void WorkloadSupervisor::stop() {
  if (stopping_) return;
  stopping_ = true;
  restart_timer_->cancel();
  if (signals_) {
    boost::system::error_code ignored;
    signals_->cancel(ignored);
  }
  if (pid_ <= 0) return;
  log_->info("workload: sending SIGTERM to the workload (pid {}); SIGKILL in {}", pid_,
             format_duration(config_.stop_timeout));
  ::kill(-pid_, SIGTERM);
  std::weak_ptr<bool> alive = alive_;
  kill_timer_->arm(config_.stop_timeout, [this, alive] {
    if (alive.expired() || pid_ <= 0) return;
    log_->warn("workload: still running {} after SIGTERM; sending SIGKILL", format_duration(config_.stop_timeout));
    ::kill(-pid_, SIGKILL);
  });
}

bool WorkloadSupervisor::forward_signal(int signo) {
  if (pid_ <= 0) return false;
  return ::kill(-pid_, signo) == 0;
}

void WorkloadSupervisor::on_line(const std::string& stream, std::string line, bool split) {
  const bool is_stderr = stream == "stderr";
  lines_family_.Add({{"stream", stream}}).Increment();
  if (split) split_family_.Add({{"stream", stream}}).Increment();
  telemetry::LogItem item;
  item.origin = origin_;
  // The line's own time is unknown (we do not parse it): observed time only, as OpenTelemetry's
  // filelog receiver does for unparsed lines.
  item.record.observed_time_unix_nano = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(time_.system_now().time_since_epoch()).count());
  item.record.severity_number = is_stderr ? kSeverityWarn : kSeverityInfo;
  item.record.severity_text = is_stderr ? "WARN" : "INFO";
  item.record.body = telemetry::AnyValue(std::move(line));
  item.record.attributes.push_back({"log.iostream", stream});
  if (split) item.record.attributes.push_back({"porthole.log.split", true});
  if (!logs_.submit(std::move(item))) dropped_family_.Add({{"stream", stream}}).Increment();
}

}  // namespace porthole::agent
