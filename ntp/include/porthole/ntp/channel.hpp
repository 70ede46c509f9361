// The NTP channel (vsock port 7003): NTP datagrams between the agent and the sidecar, in
// frames (relay/frame.hpp). Both sides send Hello first.
//   Hello    u16 version
//   Request  u64 id | NTP packet       agent -> sidecar
//   Reply    u64 id | NTP packet       sidecar -> agent
// The id is the agent's; the sidecar echoes it. The agent still matches a reply by the NTP
// origin timestamp too: it does not trust the parent to pair them correctly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "porthole/ntp/packet.hpp"
#include "porthole/relay/frame.hpp"

namespace porthole::ntp {

inline constexpr std::uint16_t kChannelVersion = 1;
inline constexpr std::uint32_t kNtpPort = 7003;

enum class ChannelType : std::uint8_t { Hello = 1, Request = 2, Reply = 3 };

inline relay::FrameLimits channel_frame_limits() {
  return relay::FrameLimits::of(8 + kMaxPacketBytes, {1, 2, 3});
}

struct Datagram {
  std::uint64_t id = 0;
  std::string_view packet;  // points into the frame's payload
};

inline std::string encode_datagram(std::uint64_t id, std::string_view packet) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((id >> (56 - 8 * i)) & 0xFF);
  out.append(packet);
  return out;
}

inline std::optional<Datagram> decode_datagram(std::string_view payload) {
  if (payload.size() < 8) return std::nullopt;
  Datagram d;
  for (int i = 0; i < 8; ++i) d.id = (d.id << 8) | static_cast<unsigned char>(payload[static_cast<std::size_t>(i)]);
  d.packet = payload.substr(8);
  return d;
}

inline std::string encode_hello() {
  return std::string{static_cast<char>(kChannelVersion >> 8), static_cast<char>(kChannelVersion & 0xFF)};
}

// The peer's version, or nullopt when the payload is not a hello.
inline std::optional<std::uint16_t> decode_hello(std::string_view payload) {
  if (payload.size() != 2) return std::nullopt;
  return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                    static_cast<unsigned char>(payload[1]));
}

inline std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace porthole::ntp
