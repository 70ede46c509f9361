#include "porthole/relay/frame.hpp"

#include <cstring>

namespace porthole::relay {

std::string_view to_string(FrameError e) {
  switch (e) {
    case FrameError::Oversized: return "oversized";
    case FrameError::UnknownType: return "unknown_type";
    case FrameError::Truncated: return "truncated";
    case FrameError::Malformed: return "malformed";
  }
  return "unknown";
}

void encode_frame(std::uint8_t type, std::string_view payload, std::string& out) {
  const auto n = static_cast<std::uint32_t>(payload.size());
  const char header[kFrameHeaderBytes] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                                          static_cast<char>(n >> 8), static_cast<char>(n),
                                          static_cast<char>(type)};
  out.append(header, kFrameHeaderBytes);
  out.append(payload);
}

void FrameDecoder::fail(FrameError e, std::string detail) {
  error_ = e;
  detail_ = std::move(detail);
  buffer_.clear();
  buffer_.shrink_to_fit();
  offset_ = 0;
}

void FrameDecoder::feed(const void* data, std::size_t size) {
  if (error_) return;
  // Compact before growing so the buffer never holds more than one partial frame plus input.
  if (offset_ > 0 && offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > 4096 && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  buffer_.append(static_cast<const char*>(data), size);
}

std::optional<Frame> FrameDecoder::next() {
  if (error_) return std::nullopt;
  const std::size_t avail = buffer_.size() - offset_;
  if (avail < kFrameHeaderBytes) return std::nullopt;
  const auto* h = reinterpret_cast<const unsigned char*>(buffer_.data() + offset_);
  const std::uint32_t length = (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) |
                               (std::uint32_t{h[2]} << 8) | std::uint32_t{h[3]};
  const std::uint8_t type = h[4];
  if (length > limits_.max_payload) {
    fail(FrameError::Oversized, "frame of " + std::to_string(length) + " bytes exceeds the channel limit of " +
                                    std::to_string(limits_.max_payload));
    return std::nullopt;
  }
  if (!limits_.known_types.test(type)) {
    fail(FrameError::UnknownType, "unknown frame type " + std::to_string(type));
    return std::nullopt;
  }
  if (avail < kFrameHeaderBytes + length) return std::nullopt;
  Frame f;
  f.type = type;
  f.payload.assign(buffer_.data() + offset_ + kFrameHeaderBytes, length);
  offset_ += kFrameHeaderBytes + length;
  return f;
}

void FrameDecoder::finish() {
  if (error_ || buffered() == 0) return;
  fail(FrameError::Truncated, "stream ended inside a frame (" + std::to_string(buffered()) + " bytes pending)");
}

}  // namespace porthole::relay
