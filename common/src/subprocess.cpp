#include "porthole/common/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

extern char** environ;

namespace porthole {
namespace {

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

pid_t spawn(const std::vector<std::string>& argv, int stdout_fd, std::string& error) {
  if (argv.empty()) {
    error = "empty command";
    return -1;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (stdout_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The child starts with default signal dispositions and an empty mask, whatever ours are.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  auto args = c_argv(argv);
  const int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    error = "cannot run " + argv[0] + ": " + std::strerror(rc);
    return -1;
  }
  return pid;
}

struct Run {
  Run(boost::asio::any_io_executor ex, int fd) : pipe(ex, fd) {}
  boost::asio::posix::stream_descriptor pipe;
  std::unique_ptr<Timer> timer;
  pid_t pid = -1;
  bool killed = false;
  std::size_t max_output = 0;
  CommandResult result;
  std::array<char, 4096> buffer{};
  std::function<void(CommandResult)> done;
};

void read_more(const std::shared_ptr<Run>& run) {
  run->pipe.async_read_some(boost::asio::buffer(run->buffer), [run](const boost::system::error_code& ec, std::size_t n) {
    if (!ec) {
      const auto room = run->max_output - std::min(run->max_output, run->result.output.size());
      run->result.output.append(run->buffer.data(), std::min(n, room));
      return read_more(run);
    }
    // EOF: the child closed stdout (it exits, or was killed). Reaping cannot block for long.
    run->timer->cancel();
    int status = 0;
    while (waitpid(run->pid, &status, 0) < 0 && errno == EINTR) {
    }
    run->result.exit_code = (!run->killed && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
    if (run->killed) run->result.error = "timed out";
    auto done = std::move(run->done);
    done(std::move(run->result));
  });
}

}  // namespace

void run_command(boost::asio::any_io_executor executor, TimeSource& time, std::vector<std::string> argv,
                 Duration timeout, std::size_t max_output, std::function<void(CommandResult)> done) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    CommandResult r;
    r.error = std::string("pipe: ") + std::strerror(errno);
    boost::asio::post(executor, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
    return;
  }
  CommandResult failed;
  const pid_t pid = spawn(argv, fds[1], failed.error);
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    boost::asio::post(executor, [done = std::move(done), r = std::move(failed)]() mutable { done(std::move(r)); });
    return;
  }
  auto run = std::make_shared<Run>(executor, fds[0]);
  run->pid = pid;
  run->max_output = max_output;
  run->done = std::move(done);
  run->timer = time.make_timer();
  std::weak_ptr<Run> weak = run;
  run->timer->arm(timeout, [weak] {
    if (auto r = weak.lock()) {
      r->killed = true;
      ::kill(r->pid, SIGKILL);
    }
  });
  read_more(run);
}

pid_t spawn_process(const std::vector<std::string>& argv, std::string& error) { return spawn(argv, -1, error); }

std::optional<int> reap_process(pid_t pid) {
  int status = 0;
  const pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == 0) return std::nullopt;
  if (r < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace porthole
