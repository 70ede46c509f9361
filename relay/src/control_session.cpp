#include "porthole/relay/control_session.hpp"

#include <boost/asio/write.hpp>

namespace porthole::relay {

std::shared_ptr<ControlSession> ControlSession::create(Stream stream, TimeSource& time, ControlSessionOptions options,
                                                       ControlMetrics& metrics, std::shared_ptr<spdlog::logger> log,
                                                       Callbacks callbacks) {
  return std::shared_ptr<ControlSession>(new ControlSession(std::move(stream), time, std::move(options), metrics,
                                                            std::move(log), std::move(callbacks)));
}

ControlSession::ControlSession(Stream stream, TimeSource& time, ControlSessionOptions options, ControlMetrics& metrics,
                               std::shared_ptr<spdlog::logger> log, Callbacks callbacks)
    : stream_(std::move(stream)),
      time_(time),
      options_(std::move(options)),
      metrics_(metrics),
      log_(std::move(log)),
      callbacks_(std::move(callbacks)),
      decoder_(control_frame_limits(options_.max_frame_bytes)),
      hello_timer_(time.make_timer()),
      tick_timer_(time.make_timer()),
      last_heard_(time.now()) {}

ControlSession::~ControlSession() = default;

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
  read_more();
}

void ControlSession::read_more() {
  if (closed_) return;
  stream_.async_read_some(boost::asio::buffer(read_buffer_),
                          [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                            if (self->closed_) return;
                            if (ec) {
                              if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) {
                                self->decoder_.finish();
                                if (auto e = self->decoder_.error()) {
                                  self->reject_frame(*e, self->decoder_.error_detail());
                                } else {
                                  self->close(CloseReason::PeerClosed, ec == boost::asio::error::eof
                                                                           ? "the peer closed the connection"
                                                                           : "the peer reset the connection");
                                }
                              } else {
                                self->close(CloseReason::IoError, "read failed: " + ec.message());
                              }
                              return;
                            }
                            self->last_heard_ = self->time_.now();
                            self->decoder_.feed(self->read_buffer_.data(), n);
                            while (auto frame = self->decoder_.next()) {
                              self->handle(std::move(*frame));
                              if (self->closed_) return;
                            }
                            if (auto e = self->decoder_.error()) {
                              self->reject_frame(*e, self->decoder_.error_detail());
                              return;
                            }
                            self->read_more();
                          });
}

void ControlSession::reject_frame(FrameError e, const std::string& detail) {
  metrics_.rejected[e].Increment();
  log_->warn("control: rejected a frame ({}): {}; closing the connection", to_string(e), detail);
  close(CloseReason::ProtocolError, std::string(to_string(e)) + ": " + detail, e != FrameError::Truncated);
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
  std::string frame;
  frame.reserve(kFrameHeaderBytes + payload.size());
  encode_frame(static_cast<std::uint8_t>(type), payload, frame);
  if (queued_bytes_ + frame.size() > options_.max_queued_bytes) {
    close(CloseReason::Backpressure, "the peer stopped reading: " + std::to_string(queued_bytes_) + " bytes queued");
    return;
  }
  metrics_.frames_tx[type]->Increment();
  queued_bytes_ += frame.size();
  write_queue_.push_back(std::move(frame));
  write_more();
}

void ControlSession::write_more() {
  if (writing_ || write_queue_.empty() || closed_) return;
  writing_ = true;
  boost::asio::async_write(stream_, boost::asio::buffer(write_queue_.front()),
                           [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                             self->writing_ = false;
                             if (self->closed_) return;
                             if (ec) return self->close(CloseReason::IoError, "write failed: " + ec.message());
                             self->queued_bytes_ -= self->write_queue_.front().size();
                             self->write_queue_.pop_front();
                             self->write_more();
                           });
}

void ControlSession::fail_pending(std::string_view why) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p.callback(std::nullopt, why);
}

void ControlSession::close(CloseReason reason, const std::string& detail, bool notify_peer) {
  if (closed_) return;
  closed_ = true;
  if (notify_peer && stream_.is_open()) {
    // One non-blocking attempt: an Error frame is a courtesy, never a reason to wait.
    ErrorCode code = ErrorCode::ProtocolError;
    if (reason == CloseReason::VersionMismatch) code = ErrorCode::VersionMismatch;
    if (reason == CloseReason::Superseded) code = ErrorCode::Superseded;
    if (reason == CloseReason::Shutdown) code = ErrorCode::Shutdown;
    std::string frame;
    encode_frame(static_cast<std::uint8_t>(ControlType::Error), encode_error({code, detail}), frame);
    boost::system::error_code ignored;
    stream_.non_blocking(true, ignored);
    if (!writing_ && stream_.write_some(boost::asio::buffer(frame), ignored) > 0) {
      metrics_.frames_tx[ControlType::Error]->Increment();
    }
  }
  hello_timer_->cancel();
  tick_timer_->cancel();
  boost::system::error_code ignored;
  stream_.shutdown(Stream::shutdown_both, ignored);
  stream_.close(ignored);
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
