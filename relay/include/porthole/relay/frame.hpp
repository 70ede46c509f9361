// The frame codec of every framed channel (control, telemetry, ntp, tap):
//   u32 big-endian payload length | u8 type | payload
// The length counts the payload only. Each channel has a maximum payload size and a set of
// types it knows; a header that breaks either is rejected as soon as its 5 bytes arrive, so an
// oversized frame is never buffered.
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace porthole::relay {

inline constexpr std::size_t kFrameHeaderBytes = 5;

enum class FrameError { Oversized, UnknownType, Truncated, Malformed };
std::string_view to_string(FrameError e);
inline constexpr FrameError kAllFrameErrors[] = {FrameError::Oversized, FrameError::UnknownType, FrameError::Truncated,
                                                 FrameError::Malformed};

struct Frame {
  std::uint8_t type = 0;
  std::string payload;  // bytes; std::string for cheap moves and text payloads
};

struct FrameLimits {
  std::size_t max_payload = 1 << 20;
  std::bitset<256> known_types;

  static FrameLimits of(std::size_t max_payload, std::initializer_list<std::uint8_t> types) {
    FrameLimits l;
    l.max_payload = max_payload;
    for (auto t : types) l.known_types.set(t);
    return l;
  }
};

// Appends one encoded frame to `out`. The caller keeps payloads within its channel's limit.
void encode_frame(std::uint8_t type, std::string_view payload, std::string& out);

// Incremental decoder: feed() what the socket gave, then take frames with next() until it
// returns nothing. After an error the decoder stays failed and keeps no input.
class FrameDecoder {
 public:
  explicit FrameDecoder(FrameLimits limits) : limits_(std::move(limits)) {}

  void feed(const void* data, std::size_t size);
  std::optional<Frame> next();
  // The peer closed the stream: a partial frame in the buffer is a truncation error.
  void finish();

  std::optional<FrameError> error() const { return error_; }
  const std::string& error_detail() const { return detail_; }
  std::size_t buffered() const { return buffer_.size() - offset_; }

 private:
  void fail(FrameError e, std::string detail);

  FrameLimits limits_;
  std::string buffer_;
  std::size_t offset_ = 0;
  std::optional<FrameError> error_;
  std::string detail_;
};

}  // namespace porthole::relay
