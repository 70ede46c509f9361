#include "porthole/relay/pipe_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>

#include "porthole/common/logging.hpp"

namespace porthole::relay {

struct PipeLedger {
  std::mutex mutex;
  PipePool* pool = nullptr;  // null once the pool is gone: pipes still lent out just close
};

Pipe::Pipe(Pipe&& o) noexcept : read_fd_(o.read_fd_), write_fd_(o.write_fd_), lender_(std::move(o.lender_)) {
  o.read_fd_ = o.write_fd_ = -1;
}

Pipe& Pipe::operator=(Pipe&& o) noexcept {
  if (this != &o) {
    reset();
    read_fd_ = o.read_fd_;
    write_fd_ = o.write_fd_;
    lender_ = std::move(o.lender_);
    o.read_fd_ = o.write_fd_ = -1;
  }
  return *this;
}

Pipe::~Pipe() { reset(); }

void Pipe::reset() {
  if (auto lender = std::move(lender_)) {
    std::lock_guard lock(lender->mutex);
    // Dropped while lent: it may hold bytes of a dead connection, so it is closed, not cached.
    if (lender->pool) lender->pool->returned_locked(*this, false);
  }
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
  read_fd_ = write_fd_ = -1;
}

namespace {

// A line per episode, then at most one a minute while it lasts.
constexpr auto kWarnEvery = std::chrono::minutes(1);

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
      .Help("Pipes for splice(): in_use = lent to a connection direction with bytes in flight, idle = cached for reuse.")
      .Labels({{"side", side}})
      .Register(r);
}

prometheus::Family<prometheus::Counter>& fallbacks_family(prometheus::Registry& r, const std::string& side) {
  return prometheus::BuildCounter()
      .Name("porthole_relay_splice_fallbacks_total")
      .Help("Reads (that moved bytes) copied through a buffer by a connection direction that splices when it can, "
            "by why it could not: exhausted = all <path>.splice_pipes pipes were lent out, pipe_failed = pipe() "
            "failed (out of descriptors), unsupported = the kernel cannot splice this socket pair (EINVAL, "
            "EOPNOTSUPP, ENOSYS; the direction copies from then on).")
      .Labels({{"side", side}})
      .Register(r);
}

}  // namespace

PipePool::PipePool(prometheus::Registry& registry, const std::string& side, const std::string& path,
                   PipePoolOptions options)
    : options_(options),
      path_(path),
      capacity_(options.pipe_bytes),
      ledger_(std::make_shared<PipeLedger>()),
      exhausted_warning_(kWarnEvery),
      pipe_failed_warning_(kWarnEvery),
      in_use_gauge_(pipes_family(registry, side).Add({{"path", path}, {"state", "in_use"}})),
      idle_gauge_(pipes_family(registry, side).Add({{"path", path}, {"state", "idle"}})),
      exhausted_(fallbacks_family(registry, side).Add({{"path", path}, {"reason", "exhausted"}})),
      unsupported_(fallbacks_family(registry, side).Add({{"path", path}, {"reason", "unsupported"}})),
      pipe_failed_(fallbacks_family(registry, side).Add({{"path", path}, {"reason", "pipe_failed"}})) {
  ledger_->pool = this;
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

PipePool::~PipePool() {
  std::lock_guard lock(ledger_->mutex);
  ledger_->pool = nullptr;
}

MonoTime PipePool::now() const { return options_.time ? options_.time->now() : MonoClock::now(); }

Pipe PipePool::acquire(Fallback* why_not) {
  std::lock_guard lock(ledger_->mutex);
  if (in_use_ >= options_.max_pipes) {
    if (why_not) *why_not = Fallback::Exhausted;
    if (const auto line = exhausted_warning_.occurred(now())) {
      if (line->new_episode) {
        logger("relay")->warn("{}: all {} splice pipes are in use; copying through buffers until some are free "
                              "(raise {}.splice_pipes if this persists){}",
                              path_, options_.max_pipes, path_,
                              line->unlogged ? fmt::format("; {} earlier attempts found none free", line->unlogged) : "");
      } else {
        logger("relay")->warn("{}: all {} splice pipes are in use, still: {} more attempts found none free since the "
                              "last warning",
                              path_, options_.max_pipes, line->unlogged);
      }
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
      const int error = errno;
      if (why_not) *why_not = Fallback::PipeFailed;
      if (const auto line = pipe_failed_warning_.occurred(now())) {
        logger("relay")->warn("{}: pipe() failed ({}){}; copying through buffers (is the open-files limit too low?)",
                              path_, std::strerror(error),
                              line->unlogged ? fmt::format(", and {} more times since the last warning", line->unlogged)
                                             : "");
      }
      return {};
    }
    pipe_failed_warning_.ended();
  }
  p.lender_ = ledger_;
  ++in_use_;
  in_use_gauge_.Set(static_cast<double>(in_use_));
  return p;
}

void PipePool::release(Pipe pipe, bool empty) {
  std::lock_guard lock(ledger_->mutex);
  if (!pipe || pipe.lender_ != ledger_) return;  // not ours to count
  pipe.lender_.reset();
  returned_locked(pipe, empty);
}

void PipePool::returned_locked(Pipe& pipe, bool empty) {
  --in_use_;
  in_use_gauge_.Set(static_cast<double>(in_use_));
  // The exhaustion episode ends when half the pipes are back, not at the first one, so a pool
  // hovering at its limit stays one episode.
  if (in_use_ <= options_.max_pipes / 2) exhausted_warning_.ended();
  // A pipe that still holds bytes of a dead connection is closed, never handed to another.
  if (empty && idle_.size() < options_.max_idle) {
    idle_.push_back(std::move(pipe));
    idle_gauge_.Set(static_cast<double>(idle_.size()));
  }
}

void PipePool::count_fallback(Fallback why) {
  switch (why) {
    case Fallback::Exhausted: exhausted_.Increment(); break;
    case Fallback::PipeFailed: pipe_failed_.Increment(); break;
    case Fallback::Unsupported:
      unsupported_.Increment();
      if (!unsupported_logged_.exchange(true)) {
        logger("relay")->info("{}: a socket pair that cannot splice; such connections copy through buffers", path_);
      }
      break;
  }
}

std::size_t PipePool::in_use() const {
  std::lock_guard lock(ledger_->mutex);
  return in_use_;
}

std::size_t PipePool::idle() const {
  std::lock_guard lock(ledger_->mutex);
  return idle_.size();
}

}  // namespace porthole::relay
