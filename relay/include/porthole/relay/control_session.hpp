// One control-channel connection, either side of it: hello exchange, heartbeats both ways with
// a timeout, metric pulls with per-request timeouts, a bounded send queue, and exactly one
// close with a reason. The sidecar's ControlServer and the agent's ControlClient own one each.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "porthole/common/time.hpp"
#include "porthole/relay/control_metrics.hpp"
#include "porthole/relay/control_protocol.hpp"
#include "porthole/relay/frame.hpp"
#include "porthole/relay/frame_connection.hpp"
#include "porthole/relay/stream.hpp"

namespace porthole::relay {

struct ControlSessionOptions {
  Role role = Role::Agent;
  std::string local_name;
  std::uint32_t capabilities = capability::kMetricsPull;
  Duration hello_timeout = std::chrono::seconds(5);
  Duration heartbeat_interval = std::chrono::seconds(1);
  Duration heartbeat_timeout = std::chrono::seconds(5);
  std::size_t max_frame_bytes = 4 << 20;
  std::size_t max_queued_bytes = 16 << 20;
  std::size_t max_pending_requests = 8;
};

class ControlSession : public std::enable_shared_from_this<ControlSession> {
 public:
  struct Callbacks {
    std::function<void(const Hello& peer)> on_ready;
    std::function<void(CloseReason reason, const std::string& detail)> on_closed;
    // Answers the peer's MetricsRequest (the agent's side); unset = requests are refused.
    std::function<std::string()> metrics_provider;
  };
  // text on success; otherwise nullopt and a failure ("timeout", "disconnected", "busy").
  using MetricsCallback = std::function<void(std::optional<std::string> text, std::string_view failure)>;

  static std::shared_ptr<ControlSession> create(Stream stream, TimeSource& time, ControlSessionOptions options,
                                                ControlMetrics& metrics, std::shared_ptr<spdlog::logger> log,
                                                Callbacks callbacks);
  ~ControlSession();

  void start();
  // Idempotent. When `notify_peer`, tells the peer why in an Error frame (best effort).
  void close(CloseReason reason, const std::string& detail, bool notify_peer = false);
  void request_metrics(Duration timeout, MetricsCallback callback);

  bool ready() const { return ready_ && !closed_; }
  bool closed() const { return closed_; }
  const Hello& peer() const { return peer_; }
  MonoTime last_heard() const { return last_heard_; }

 private:
  ControlSession(Stream stream, TimeSource& time, ControlSessionOptions options, ControlMetrics& metrics,
                 std::shared_ptr<spdlog::logger> log, Callbacks callbacks);
  void handle(Frame&& frame);
  void handle_hello(const Frame& frame);
  void handle_error(const Frame& frame);
  void send(ControlType type, std::string_view payload);
  void tick();
  void reject_frame(FrameError e, const std::string& detail);
  void fail_pending(std::string_view why);

  TimeSource& time_;
  ControlSessionOptions options_;
  ControlMetrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  Callbacks callbacks_;
  std::shared_ptr<FrameConnection> connection_;

  std::unique_ptr<Timer> hello_timer_;
  std::unique_ptr<Timer> tick_timer_;
  MonoTime last_heard_;
  std::uint64_t heartbeat_seq_ = 0;
  bool ready_ = false;
  bool closed_ = false;
  Hello peer_;

  struct Pending {
    MetricsCallback callback;
    std::unique_ptr<Timer> timer;
  };
  std::map<std::uint64_t, Pending> pending_;
  std::uint64_t next_request_id_ = 1;
};

}  // namespace porthole::relay
