// One framed stream (control, ntp, telemetry, tap channels): reads frames through a
// FrameDecoder and hands them over one at a time, writes frames through a bounded queue, and
// closes exactly once with a reason. A frame the codec rejects is counted, logged, and closes
// this connection only; the process keeps serving everyone else.
#pragma once

#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "porthole/relay/control_metrics.hpp"
#include "porthole/relay/frame.hpp"
#include "porthole/relay/stream.hpp"

namespace porthole::relay {

class FrameConnection : public std::enable_shared_from_this<FrameConnection> {
 public:
  struct Callbacks {
    std::function<void(Frame&&)> on_frame;
    std::function<void(CloseReason, const std::string& detail)> on_closed;
  };

  static std::shared_ptr<FrameConnection> create(Stream stream, FrameLimits limits, std::size_t max_queued_bytes,
                                                 FrameRejectCounters& rejected, std::shared_ptr<spdlog::logger> log,
                                                 std::string channel);

  void start(Callbacks callbacks);
  // Queues one frame. A peer that lets more than max_queued_bytes pile up is closed
  // (backpressure): nothing here grows without bound.
  void send(std::uint8_t type, std::string_view payload);
  // Idempotent. `farewell`, when given, is one encoded frame written with a single
  // non-blocking attempt before closing (an error frame telling the peer why).
  void close(CloseReason reason, const std::string& detail, const std::string* farewell = nullptr);
  // Rejects the input as the codec would: counts it, logs it and closes.
  void reject(FrameError error, const std::string& detail, const std::string* farewell = nullptr);

  bool closed() const { return closed_; }
  std::size_t queued_bytes() const { return queued_bytes_; }

 private:
  FrameConnection(Stream stream, FrameLimits limits, std::size_t max_queued_bytes, FrameRejectCounters& rejected,
                  std::shared_ptr<spdlog::logger> log, std::string channel);
  void read_more();
  void write_more();

  Stream stream_;
  FrameDecoder decoder_;
  std::size_t max_queued_bytes_;
  FrameRejectCounters& rejected_;
  std::shared_ptr<spdlog::logger> log_;
  std::string channel_;
  Callbacks callbacks_;
  std::array<char, 64 * 1024> read_buffer_{};
  std::deque<std::string> write_queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace porthole::relay
