#include "porthole/relay/control_session.hpp"


namespace porthole::relay {

std::shared_ptr<ControlSession> ControlSession::create(Stream stream, TimeSource& time, ControlSessionOptions options,
                                                       ControlMetrics& metrics, std::shared_ptr<spdlog::logger> log,
                                                       Callbacks callbacks) {
  return std::shared_ptr<ControlSession>(new ControlSession(std::move(stream), time, std::move(options), metrics,
                                                            std::move(log), std::move(callbacks)));
}

ControlSession::ControlSession(Stream stream, TimeSource& time, ControlSessionOptions options, ControlMetrics& metrics,
                               std::shared_ptr<spdlog::logger> log, Callbacks callbacks)
    : time_(time),
      options_(std::move(options)),
      metrics_(metrics),
      log_(std::move(log)),
      callbacks_(std::move(callbacks)),
      connection_(FrameConnection::create(std::move(stream), control_frame_limits(options_.max_frame_bytes),
                                          options_.max_queued_bytes, metrics.rejected, log_, "control")),
      hello_timer_(time.make_timer()),
      tick_timer_(time.make_timer()),
      last_heard_(time.now()) {}

// An owner that drops a session without closing it must not leave the socket open.
ControlSession::~ControlSession() { connection_->close(CloseReason::Shutdown, "session destroyed"); }

void ControlSession::start() {
  Hello hello;
  hello.role = options_.role;
  hello.capabilities = options_.capabilities;
  hello.name = options_.local_name;
  hello.software_version = PORTHOLE_VERSION;
  send(ControlType::Hello, encode_hello(hello));
  std::weak_ptr<ControlSession> weak = shared_from_this();
  hello_timer_->arm(options_.hello_timeout, [weak] {
    if (auto self = weak.lock()) {
      self->close(CloseReason::HelloTimeout,
                  "no hello from the peer within " + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                         self->options_.hello_timeout)
                                                                         .count()) +
                      " ms");
    }
  });
  tick_timer_->arm(options_.heartbeat_interval, [weak] {
    if (auto self = weak.lock()) self->tick();
  });
  connection_->start({[weak](Frame&& frame) {
                        if (auto self = weak.lock()) {
                          self->last_heard_ = self->time_.now();
                          self->handle(std::move(frame));
                        }
                      },
                      [weak](CloseReason reason, const std::string& detail) {
                        if (auto self = weak.lock()) self->close(reason, detail);
                      }});
}

void ControlSession::reject_frame(FrameError e, const std::string& detail) {
  std::string farewell;
  encode_frame(static_cast<std::uint8_t>(ControlType::Error),
               encode_error({ErrorCode::ProtocolError, std::string(to_string(e)) + ": " + detail}), farewell);
  metrics_.frames_tx[ControlType::Error]->Increment();
  connection_->reject(e, detail, &farewell);  // closes us through the connection's on_closed
}

void ControlSession::handle(Frame&& frame) {
  const auto type = static_cast<ControlType>(frame.type);
  metrics_.frames_rx[type]->Increment();
  if (type == ControlType::Error) return handle_error(frame);
  if (type == ControlType::Hello) return handle_hello(frame);
  if (!ready_) {
    reject_frame(FrameError::Malformed, "a " + std::string(to_string(type)) + " frame arrived before hello");
    return;
  }
  std::string why;
  switch (type) {
    case ControlType::Heartbeat:
      if (!decode_u64(frame.payload, &why)) return reject_frame(FrameError::Malformed, "heartbeat: " + why);
      return;
    case ControlType::MetricsRequest: {
      auto id = decode_u64(frame.payload, &why);
      if (!id) return reject_frame(FrameError::Malformed, "metrics request: " + why);
      if (!callbacks_.metrics_provider) {
        return reject_frame(FrameError::Malformed, "metrics request sent to a side that serves none");
      }
      std::string text = callbacks_.metrics_provider();
      if (text.size() + 9 > options_.max_frame_bytes) {
        log_->warn("control: metrics snapshot of {} bytes exceeds max_frame_bytes {}; sending it truncated to nothing",
                   text.size(), options_.max_frame_bytes);
        text.clear();
      }
      send(ControlType::MetricsResponse, encode_metrics_response({*id, std::move(text)}));
      return;
    }
    case ControlType::MetricsResponse: {
      auto response = decode_metrics_response(frame.payload, &why);
      if (!response) return reject_frame(FrameError::Malformed, "metrics response: " + why);
      auto it = pending_.find(response->id);
      if (it == pending_.end()) {
        log_->debug("control: late metrics response {} ignored (its request timed out)", response->id);
        return;
      }
      auto callback = std::move(it->second.callback);
      pending_.erase(it);
      callback(std::move(response->text), "");
      return;
    }
    default:
      return;
  }
}

void ControlSession::handle_hello(const Frame& frame) {
  std::string why;
  auto hello = decode_hello(frame.payload, &why);
  if (!hello) return reject_frame(FrameError::Malformed, "hello: " + why);
  if (hello->version != kControlProtocolVersion) {
    const std::string detail = "the peer speaks control protocol v" + std::to_string(hello->version) + ", this " +
                               std::string(to_string(options_.role)) + " speaks v" +
                               std::to_string(kControlProtocolVersion) +
                               "; run matching porthole-sidecar and porthole-agent versions";
    log_->error("control: {}", detail);
    close(CloseReason::VersionMismatch, detail, true);
    return;
  }
  if (ready_) return reject_frame(FrameError::Malformed, "a second hello on one connection");
  const Role expected = options_.role == Role::Agent ? Role::Sidecar : Role::Agent;
  if (hello->role != expected) {
    return reject_frame(FrameError::Malformed, "hello from a " + std::string(to_string(hello->role)) + ", expected a " +
                                                   std::string(to_string(expected)));
  }
  peer_ = std::move(*hello);
  ready_ = true;
  hello_timer_->cancel();
  metrics_.connects.Increment();
  if (callbacks_.on_ready) callbacks_.on_ready(peer_);
}

void ControlSession::handle_error(const Frame& frame) {
  auto error = decode_error(frame.payload);
  if (!error) return reject_frame(FrameError::Malformed, "error frame too short");
  CloseReason reason = CloseReason::ProtocolError;
  if (error->code == ErrorCode::VersionMismatch) reason = CloseReason::VersionMismatch;
  if (error->code == ErrorCode::Superseded) reason = CloseReason::Superseded;
  if (error->code == ErrorCode::Shutdown) reason = CloseReason::Shutdown;
  if (reason == CloseReason::Shutdown || reason == CloseReason::Superseded) {
    log_->info("control: the peer closed the session: {}", error->message);
  } else {
    log_->error("control: the peer refused the session: {}", error->message);
  }
  close(reason, "peer says: " + error->message);
}

void ControlSession::tick() {
  if (closed_) return;
  const auto silent = time_.now() - last_heard_;
  if (ready_ && silent > options_.heartbeat_timeout) {
    close(CloseReason::HeartbeatTimeout,
          "nothing heard from the peer for " +
              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(silent).count()) + " ms");
    return;
  }
  if (ready_) send(ControlType::Heartbeat, encode_u64(++heartbeat_seq_));
  std::weak_ptr<ControlSession> weak = shared_from_this();
  tick_timer_->arm(options_.heartbeat_interval, [weak] {
    if (auto self = weak.lock()) self->tick();
  });
}

void ControlSession::request_metrics(Duration timeout, MetricsCallback callback) {
  if (!ready()) return callback(std::nullopt, "disconnected");
  if (!(peer_.capabilities & capability::kMetricsPull)) return callback(std::nullopt, "unsupported");
  if (pending_.size() >= options_.max_pending_requests) return callback(std::nullopt, "busy");
  const auto id = next_request_id_++;
  auto& pending = pending_[id];
  pending.callback = std::move(callback);
  pending.timer = time_.make_timer();
  std::weak_ptr<ControlSession> weak = shared_from_this();
  pending.timer->arm(timeout, [weak, id] {
    auto self = weak.lock();
    if (!self) return;
    auto it = self->pending_.find(id);
    if (it == self->pending_.end()) return;
    auto cb = std::move(it->second.callback);
    self->pending_.erase(it);
    cb(std::nullopt, "timeout");
  });
  send(ControlType::MetricsRequest, encode_u64(id));
}

void ControlSession::send(ControlType type, std::string_view payload) {
  if (closed_) return;
  metrics_.frames_tx[type]->Increment();
  connection_->send(static_cast<std::uint8_t>(type), payload);
}

void ControlSession::fail_pending(std::string_view why) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p.callback(std::nullopt, why);
}

void ControlSession::close(CloseReason reason, const std::string& detail, bool notify_peer) {
  if (closed_) return;
  closed_ = true;
  std::string farewell;
  if (notify_peer) {
    ErrorCode code = ErrorCode::ProtocolError;
    if (reason == CloseReason::VersionMismatch) code = ErrorCode::VersionMismatch;
    if (reason == CloseReason::Superseded) code = ErrorCode::Superseded;
    if (reason == CloseReason::Shutdown) code = ErrorCode::Shutdown;
    encode_frame(static_cast<std::uint8_t>(ControlType::Error), encode_error({code, detail}), farewell);
    metrics_.frames_tx[ControlType::Error]->Increment();
  }
  connection_->close(reason, detail, notify_peer ? &farewell : nullptr);
  hello_timer_->cancel();
  tick_timer_->cancel();
  metrics_.disconnects[reason]->Increment();
  const bool expected = reason == CloseReason::Shutdown || reason == CloseReason::Superseded;
  if (expected) {
    log_->info("control: session with {} closed ({}): {}", peer_.name.empty() ? "peer" : peer_.name, to_string(reason), detail);
  } else {
    log_->warn("control: session with {} closed ({}): {}", peer_.name.empty() ? "peer" : peer_.name, to_string(reason), detail);
  }
  fail_pending("disconnected");
  auto on_closed = std::move(callbacks_.on_closed);
  callbacks_ = {};
  if (on_closed) on_closed(reason, detail);
}

}  // namespace porthole::relay
