#include "porthole/relay/frame_connection.hpp"

#include <boost/asio/write.hpp>

namespace porthole::relay {

std::shared_ptr<FrameConnection> FrameConnection::create(Stream stream, FrameLimits limits,
                                                         std::size_t max_queued_bytes, FrameRejectCounters& rejected,
                                                         std::shared_ptr<spdlog::logger> log, std::string channel) {
  return std::shared_ptr<FrameConnection>(new FrameConnection(std::move(stream), std::move(limits), max_queued_bytes,
                                                              rejected, std::move(log), std::move(channel)));
}

FrameConnection::FrameConnection(Stream stream, FrameLimits limits, std::size_t max_queued_bytes,
                                 FrameRejectCounters& rejected, std::shared_ptr<spdlog::logger> log,
                                 std::string channel)
    : stream_(std::move(stream)),
      decoder_(std::move(limits)),
      max_queued_bytes_(max_queued_bytes),
      rejected_(rejected),
      log_(std::move(log)),
      channel_(std::move(channel)) {}

void FrameConnection::start(Callbacks callbacks) {
  callbacks_ = std::move(callbacks);
  read_more();
}

void FrameConnection::read_more() {
  if (closed_) return;
  stream_.async_read_some(
      boost::asio::buffer(read_buffer_), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (self->closed_) return;
        if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) {
          self->decoder_.finish();
          if (auto e = self->decoder_.error()) return self->reject(*e, self->decoder_.error_detail());
          return self->close(CloseReason::PeerClosed, ec == boost::asio::error::eof ? "the peer closed the connection"
                                                                                    : "the peer reset the connection");
        }
        if (ec) return self->close(CloseReason::IoError, "read failed: " + ec.message());
        self->decoder_.feed(self->read_buffer_.data(), n);
        while (auto frame = self->decoder_.next()) {
          self->callbacks_.on_frame(std::move(*frame));
          if (self->closed_) return;
        }
        if (auto e = self->decoder_.error()) return self->reject(*e, self->decoder_.error_detail());
        self->read_more();
      });
}

void FrameConnection::reject(FrameError error, const std::string& detail, const std::string* farewell) {
  if (closed_) return;
  rejected_[error].Increment();
  log_->warn("{}: rejected a frame ({}): {}; closing the connection", channel_, to_string(error), detail);
  close(CloseReason::ProtocolError, std::string(to_string(error)) + ": " + detail, farewell);
}

void FrameConnection::send(std::uint8_t type, std::string_view payload) {
  if (closed_) return;
  std::string frame;
  frame.reserve(kFrameHeaderBytes + payload.size());
  encode_frame(type, payload, frame);
  if (queued_bytes_ + frame.size() > max_queued_bytes_) {
    close(CloseReason::Backpressure, "the peer stopped reading: " + std::to_string(queued_bytes_) + " bytes queued");
    return;
  }
  queued_bytes_ += frame.size();
  write_queue_.push_back(std::move(frame));
  write_more();
}

void FrameConnection::write_more() {
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

void FrameConnection::close(CloseReason reason, const std::string& detail, const std::string* farewell) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  if (farewell && stream_.is_open() && !writing_) {
    // One non-blocking attempt: a farewell is a courtesy, never a reason to wait.
    stream_.non_blocking(true, ignored);
    stream_.write_some(boost::asio::buffer(*farewell), ignored);
  }
  stream_.shutdown(Stream::shutdown_both, ignored);
  stream_.close(ignored);
  write_queue_.clear();
  queued_bytes_ = 0;
  auto on_closed = std::move(callbacks_.on_closed);
  callbacks_ = {};
  if (on_closed) on_closed(reason, detail);
}

}  // namespace porthole::relay
