#include "porthole/relay/pipe_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "porthole/common/logging.hpp"


namespace porthole::relay {

Pipe::Pipe(Pipe&& o) noexcept : read_fd_(o.read_fd_), write_fd_(o.write_fd_) { o.read_fd_ = o.write_fd_ = -1; }

Pipe& Pipe::operator=(Pipe&& o) noexcept {
  if (this != &o) {
    reset();
    read_fd_ = o.read_fd_;
    write_fd_ = o.write_fd_;
    o.read_fd_ = o.write_fd_ = -1;
  }
  return *this;
}

Pipe::~Pipe() { reset(); }

void Pipe::reset() {
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
  read_fd_ = write_fd_ = -1;
}

namespace {

Pipe make_pipe(std::size_t bytes) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return {};
  // Best effort: a smaller pipe still works, only in smaller steps.
  ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(bytes));
  return {fds[0], fds[1]};
}

prometheus::Family<prometheus::Gauge>& pipes_family(prometheus::Registry& r, const std::string& side) {
  return prometheus::BuildGauge()
      .Name("porthole_relay_splice_pipes")
      .Help("Pipes for splice(): in_use = holding bytes in flight, idle = cached for reuse.")
      .Labels({{"side", side}})
      .Register(r);
}

prometheus::Family<prometheus::Counter>& fallbacks_family(prometheus::Registry& r, const std::string& side) {
  return prometheus::BuildCounter()
      .Name("porthole_relay_splice_fallbacks_total")
      .Help("Reads copied through a buffer instead of spliced: exhausted = max_pipes in use, "
            "unsupported = the socket pair cannot splice, pipe_failed = pipe() failed (descriptors).")
      .Labels({{"side", side}})
      .Register(r);
}

}  // namespace

PipePool::PipePool(prometheus::Registry& registry, const std::string& side, const std::string& path,
                   PipePoolOptions options)
    : options_(options),
      path_(path),
      capacity_(options.pipe_bytes),
      in_use_gauge_(pipes_family(registry, side).Add({{"path", path}, {"state", "in_use"}})),
      idle_gauge_(pipes_family(registry, side).Add({{"path", path}, {"state", "idle"}})),
      exhausted_(fallbacks_family(registry, side).Add({{"path", path}, {"reason", "exhausted"}})),
      unsupported_(fallbacks_family(registry, side).Add({{"path", path}, {"reason", "unsupported"}})),
      create_failed_(fallbacks_family(registry, side).Add({{"path", path}, {"reason", "pipe_failed"}})) {
  if (!enabled()) return;
  std::signal(SIGPIPE, SIG_IGN);
  // Learn what the kernel gives us (pipe-max-size may cap it): one splice moves at most that.
  Pipe probe = make_pipe(options_.pipe_bytes);
  if (probe) {
    const int got = ::fcntl(probe.write_fd(), F_GETPIPE_SZ);
    if (got > 0) capacity_ = static_cast<std::size_t>(got);
    if (options_.max_idle > 0) idle_.push_back(std::move(probe));
  }
  idle_gauge_.Set(static_cast<double>(idle_.size()));
}

PipePool::~PipePool() = default;

Pipe PipePool::acquire() {
  std::lock_guard lock(mutex_);
  if (in_use_ >= options_.max_pipes) {
    exhausted_.Increment();
    // Once per episode, not per read: the episode ends when half the pipes are back.
    if (!exhausted_logged_) {
      exhausted_logged_ = true;
      logger("relay")->warn("{}: all {} splice pipes are in use; copying through buffers until some are free "
                            "(raise {}.splice_pipes if this persists)",
                            path_, options_.max_pipes, path_);
    }
    return {};
  }
  Pipe p;
  if (!idle_.empty()) {
    p = std::move(idle_.back());
    idle_.pop_back();
    idle_gauge_.Set(static_cast<double>(idle_.size()));
  } else {
    p = make_pipe(options_.pipe_bytes);
    if (!p) {
      create_failed_.Increment();
      if (!exhausted_logged_) {
        exhausted_logged_ = true;
        logger("relay")->warn("{}: pipe() failed ({}); copying through buffers", path_, std::strerror(errno));
      }
      return {};
    }
  }
  ++in_use_;
  in_use_gauge_.Set(static_cast<double>(in_use_));
  return p;
}

void PipePool::release(Pipe pipe, bool empty) {
  if (!pipe) return;
  std::lock_guard lock(mutex_);
  --in_use_;
  in_use_gauge_.Set(static_cast<double>(in_use_));
  if (in_use_ <= options_.max_pipes / 2) exhausted_logged_ = false;
  // A pipe that still holds bytes of a dead connection is closed, never handed to another.
  if (empty && idle_.size() < options_.max_idle) {
    idle_.push_back(std::move(pipe));
    idle_gauge_.Set(static_cast<double>(idle_.size()));
  }
}

void PipePool::count_fallback(Fallback why) {
  (why == Fallback::Exhausted ? exhausted_ : unsupported_).Increment();
  if (why == Fallback::Unsupported && !unsupported_logged_.exchange(true)) {
    logger("relay")->info("{}: a socket pair that cannot splice; such connections copy through buffers", path_);
  }
}

std::size_t PipePool::in_use() const {
  std::lock_guard lock(mutex_);
  return in_use_;
}

std::size_t PipePool::idle() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

}  // namespace porthole::relay
