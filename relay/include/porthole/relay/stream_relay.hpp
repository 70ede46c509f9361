// The relay every byte stream goes through (ingress, egress): copies both ways between two
// sockets with the semantics of a TCP proxy —
//   - half-close: EOF one way becomes shutdown(SHUT_WR) on the other; the other way keeps flowing;
//   - abort: a reset (or a write that fails) one way resets the other (SO_LINGER 0 + close);
//   - idle timeout: `idle_timeout` with no progress either way (no byte read, none written, not
//     even part of a chunk to a slow reader) aborts both;
//   - bounded memory: a direction holds a buffer only while bytes are in flight (it waits for
//     readability with neither buffer nor pipe), and reads no more until its write completed,
//     so a slow reader stalls its writer through TCP/vsock flow control instead of growing memory;
//   - splice(2) when given a PipePool: bytes go socket -> pipe -> socket without entering user
//     space, the pipe held (like the buffer) only while bytes are in flight. A socket pair the
//     kernel cannot splice, or an exhausted pool, falls back to the buffer copy (each such read
//     counted in porthole_relay_splice_fallbacks_total);
//   - an optional StreamObserver sees (and may edit) the bytes as they pass — how the agent
//     records HTTP spans at ingress; a stream with an observer is copied, never spliced.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "porthole/common/time.hpp"
#include "porthole/relay/pipe_pool.hpp"
#include "porthole/relay/stream.hpp"

namespace porthole::relay {

struct RelayResult;

// Sees the bytes of a relayed stream as they pass, and may edit them (e.g. add a header). Called
// on the relay's executor, never concurrently for one relay.
class StreamObserver {
 public:
  virtual ~StreamObserver() = default;
  // `data` was read from one end (upstream: from a, the originator); append to `out` what the
  // other end gets — normally `data` itself. Bytes held back must be bounded and appended later.
  virtual void on_bytes(bool upstream, std::string_view data, std::string& out) = 0;
  // The `upstream` source ended (EOF): append to `out` every byte still held back for that
  // direction; they reach the other end before the half-close does. An observer that holds
  // bytes back must override this, or they are lost.
  virtual void on_eof(bool upstream, std::string& out) {
    (void)upstream;
    (void)out;
  }
  // The stream ended (after the Done callback's result is known).
  virtual void on_end(const RelayResult& result) = 0;
};

struct RelayOptions {
  std::size_t buffer_bytes = 64 * 1024;
  Duration idle_timeout = std::chrono::minutes(5);
  PipePool* pipes = nullptr;  // splice through these when set and enabled
  std::shared_ptr<StreamObserver> observer;  // sees every byte; turns splice off
};

enum class RelayEnd { Closed, Reset, IdleTimeout, Aborted };
std::string_view to_string(RelayEnd e);

struct RelayResult {
  RelayEnd end = RelayEnd::Closed;
  std::uint64_t bytes_upstream = 0;    // from the originator (a) to the destination (b)
  std::uint64_t bytes_downstream = 0;  // from b back to a
};

class StreamRelay : public std::enable_shared_from_this<StreamRelay> {
 public:
  using Done = std::function<void(const RelayResult&)>;
  // Counts bytes as they move (for live byte counters): (upstream?, bytes).
  using Progress = std::function<void(bool upstream, std::size_t bytes)>;

  static std::shared_ptr<StreamRelay> create(Stream a, Stream b, TimeSource& time, RelayOptions options,
                                             Progress progress, Done done);
  // `to_b` / `to_a`: bytes already read from a / b (behind a header) to deliver first, as given:
  // the observer does not see them (the caller shows them to it if it should).
  void start(std::string to_b = {}, std::string to_a = {});
  void abort();  // resets both ends now
  std::size_t buffer_bytes_held() const;  // copy buffers held now (0 while idle)
  ~StreamRelay();

 private:
  struct Direction;
  enum class Step { Again, Wait };  // go on reading at once / a handler (or nothing) continues
  StreamRelay(Stream a, Stream b, TimeSource& time, RelayOptions options, Progress progress, Done done);
  void pump(Direction& d);
  void read_now(Direction& d);
  Step copy_once(Direction& d);
  Step splice_once(Direction& d);
  Step drain_pipe(Direction& d);
  Step fall_back_to_copy(Direction& d);
  Step write_now(Direction& d, const char* data, std::size_t n);
  Step continue_write(Direction& d);
  void count_read(Direction& d, std::size_t n);
  void end_of_stream(Direction& d);
  void on_eof(Direction& d);
  void release_pipe(Direction& d);
  void half_close(Direction& d);
  void finish(RelayEnd end);
  void arm_idle();
  Direction& other(Direction& d);

  Stream a_;
  Stream b_;
  TimeSource& time_;
  RelayOptions options_;
  Progress progress_;
  Done done_;
  std::unique_ptr<Direction> up_;    // a -> b
  std::unique_ptr<Direction> down_;  // b -> a
  std::unique_ptr<Timer> idle_timer_;
  MonoTime last_activity_;
  RelayResult result_;
  bool finished_ = false;
};

}  // namespace porthole::relay
