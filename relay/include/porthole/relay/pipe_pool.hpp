// Pipes for splice(2): the relay moves bytes socket -> pipe -> socket inside the kernel instead
// of copying them through a user-space buffer. A pipe costs two descriptors, so, like the copy
// buffers, a connection direction holds one only while bytes are in flight; idle pipes go back
// to a small cache here, and the pool never hands out more than `max_pipes` at once (beyond that
// the relay copies through a buffer). One pool per relay path (ingress, egress).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "porthole/common/time.hpp"
#include "porthole/relay/episode_warning.hpp"

namespace porthole::relay {

struct PipeLedger;  // a pool's bookkeeping, shared with the pipes it lent out

// A pipe's two ends; closes them when destroyed. A pipe lent by a PipePool and dropped without
// PipePool::release() (its relay died mid-transfer) goes back to the pool as it is closed, so
// the pool's count stays true — even if the pool itself is gone by then.
class Pipe {
 public:
  Pipe() = default;
  Pipe(int read_fd, int write_fd) : read_fd_(read_fd), write_fd_(write_fd) {}
  Pipe(Pipe&& o) noexcept;
  Pipe& operator=(Pipe&& o) noexcept;
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe();

  explicit operator bool() const { return read_fd_ >= 0; }
  int read_fd() const { return read_fd_; }
  int write_fd() const { return write_fd_; }
  void reset();

 private:
  friend class PipePool;
  int read_fd_ = -1;
  int write_fd_ = -1;
  std::shared_ptr<PipeLedger> lender_;  // set while lent out
};

struct PipePoolOptions {
  std::size_t max_pipes = 1024;     // handed out at once; 0 turns splice off
  std::size_t max_idle = 64;        // kept for reuse
  // F_SETPIPE_SZ: rounded up to a power-of-two number of pages; above pipe-max-size the kernel
  // refuses an unprivileged process and the pipe keeps its default 64 KiB.
  std::size_t pipe_bytes = 64 * 1024;
  TimeSource* time = nullptr;       // paces the warnings; the steady clock when null
};

class PipePool {
 public:
  // Why a read that would have been spliced was copied through a buffer instead.
  enum class Fallback { Exhausted, PipeFailed, Unsupported };

  // Splicing into a socket whose peer is gone raises SIGPIPE (splice has no MSG_NOSIGNAL), so a
  // process with a pool ignores SIGPIPE; writes report EPIPE instead.
  PipePool(prometheus::Registry& registry, const std::string& side, const std::string& path,
           PipePoolOptions options);
  ~PipePool();
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  bool enabled() const { return options_.max_pipes > 0; }
  // An empty pipe, or an invalid one when max_pipes are out or pipe() fails (`why_not` says
  // which; each is warned, paced, not counted: the relay counts the reads it then copies).
  Pipe acquire(Fallback* why_not = nullptr);
  // Takes back a pipe; `empty` says whether bytes are still in it (then it is closed, not kept).
  void release(Pipe pipe, bool empty);
  // One read copied through a buffer instead of spliced, and why.
  void count_fallback(Fallback why);
  std::size_t capacity() const { return capacity_; }  // bytes one pipe holds
  std::size_t in_use() const;
  std::size_t idle() const;

 private:
  friend class Pipe;
  void returned_locked(Pipe& pipe, bool empty);  // under the ledger's mutex
  MonoTime now() const;

  PipePoolOptions options_;
  std::string path_;
  std::size_t capacity_;
  std::shared_ptr<PipeLedger> ledger_;  // its mutex guards everything below that changes
  EpisodeWarning exhausted_warning_;
  EpisodeWarning pipe_failed_warning_;
  std::atomic<bool> unsupported_logged_{false};
  std::vector<Pipe> idle_;
  std::size_t in_use_ = 0;
  prometheus::Gauge& in_use_gauge_;
  prometheus::Gauge& idle_gauge_;
  prometheus::Counter& exhausted_;
  prometheus::Counter& unsupported_;
  prometheus::Counter& pipe_failed_;
};

}  // namespace porthole::relay
