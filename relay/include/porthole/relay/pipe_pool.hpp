// Pipes for splice(2): the relay moves bytes socket -> pipe -> socket inside the kernel instead
// of copying them through a user-space buffer. A pipe costs two descriptors, so, like the copy
// buffers, a connection holds one only while bytes are in flight; idle pipes go back to a small
// cache here, and the pool never hands out more than `max_pipes` at once (beyond that the relay
// copies through a buffer, counted as a fallback). One pool per relay path (ingress, egress).
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace porthole::relay {

// A pipe's two ends; closes them when destroyed.
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
  int read_fd_ = -1;
  int write_fd_ = -1;
};

struct PipePoolOptions {
  std::size_t max_pipes = 1024;     // handed out at once; 0 turns splice off
  std::size_t max_idle = 64;        // kept for reuse
  std::size_t pipe_bytes = 64 * 1024;  // F_SETPIPE_SZ; the kernel rounds up to pages
};

class PipePool {
 public:
  enum class Fallback { Exhausted, Unsupported };

  // Splicing into a socket whose peer is gone raises SIGPIPE (splice has no MSG_NOSIGNAL), so a
  // process with a pool ignores SIGPIPE; writes report EPIPE instead.
  PipePool(prometheus::Registry& registry, const std::string& side, const std::string& path,
           PipePoolOptions options);
  ~PipePool();
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  bool enabled() const { return options_.max_pipes > 0; }
  // An empty pipe, or an invalid one when max_pipes are out (counted as a fallback).
  Pipe acquire();
  // Takes back a pipe; `empty` says whether bytes are still in it (then it is closed, not kept).
  void release(Pipe pipe, bool empty);
  void count_fallback(Fallback why);
  std::size_t capacity() const { return capacity_; }  // bytes one pipe holds
  std::size_t in_use() const;
  std::size_t idle() const;

 private:
  PipePoolOptions options_;
  std::string path_;
  std::size_t capacity_;
  bool exhausted_logged_ = false;  // under mutex_
  std::atomic<bool> unsupported_logged_{false};
  mutable std::mutex mutex_;  // relays may run on several io threads
  std::vector<Pipe> idle_;
  std::size_t in_use_ = 0;
  prometheus::Gauge& in_use_gauge_;
  prometheus::Gauge& idle_gauge_;
  prometheus::Counter& exhausted_;
  prometheus::Counter& unsupported_;
  prometheus::Counter& create_failed_;
};

}  // namespace porthole::relay
