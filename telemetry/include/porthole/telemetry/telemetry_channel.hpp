// The telemetry channel (vsock port 7001, agent -> sidecar): span and log batches leave the
// enclave as OTLP protobuf inside frames (relay/frame.hpp: u32 length | u8 type | payload).
//   Hello  u16 version                                        both ways, first frame
//   Spans  u64 seq | u8 flags | ExportTraceServiceRequest     agent -> sidecar
//   Logs   u64 seq | u8 flags | ExportLogsServiceRequest      agent -> sidecar
//   Ack    u64 seq | u8 status (0 accepted, 1 rejected)       sidecar -> agent
// flags bit 0: the request is a gzip member. The agent counts a batch as exported when its Ack
// says accepted (the sidecar has decoded it and handed it to its exporters), so the agent's
// exported/dropped numbers mean "reached the parent", not "reached a socket buffer".
// This file is the payload format only; the frame codec and connections live in relay/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace porthole::telemetry {

inline constexpr std::uint16_t kTelemetryChannelVersion = 1;
inline constexpr std::uint32_t kTelemetryPort = 7001;

enum class TelemetryFrameType : std::uint8_t { Hello = 1, Spans = 2, Logs = 3, Ack = 4 };

enum class ChannelCompression { None, Gzip };
std::string_view to_string(ChannelCompression c);

inline constexpr std::uint8_t kBatchFlagGzip = 0x01;
inline constexpr std::size_t kBatchHeaderBytes = 9;

std::string encode_channel_hello();
// The peer's version, or nullopt when the payload is not a hello.
std::optional<std::uint16_t> decode_channel_hello(std::string_view payload);

// `request` is the encoded protobuf request; with Gzip it is compressed here. Returns nullopt
// only if zlib fails.
std::optional<std::string> encode_batch_payload(std::uint64_t seq, ChannelCompression compression,
                                                std::string_view request);
// The same, built in place so that a large request is not copied: `payload` holds
// kBatchHeaderBytes of any value followed by the encoded request; this writes the header (and
// with Gzip replaces the request by its compression). False only if zlib fails.
bool seal_batch_payload(std::string& payload, std::uint64_t seq, ChannelCompression compression);

struct BatchPayload {
  std::uint64_t seq = 0;
  std::uint8_t flags = 0;
  std::string_view body;  // points into the frame's payload
};
// nullopt when the payload is shorter than its header or has unknown flag bits.
std::optional<BatchPayload> decode_batch_payload(std::string_view payload);

// The protobuf request a batch payload carries: the body itself, or its decompression bounded by
// `max_bytes`. nullopt (with `error` set) for a corrupt or too large gzip member.
std::optional<std::string> batch_request_bytes(const BatchPayload& batch, std::size_t max_bytes, std::string& error);

enum class AckStatus : std::uint8_t { Accepted = 0, Rejected = 1 };
std::string encode_ack(std::uint64_t seq, AckStatus status);
struct Ack {
  std::uint64_t seq = 0;
  AckStatus status = AckStatus::Accepted;
};
std::optional<Ack> decode_ack(std::string_view payload);

}  // namespace porthole::telemetry
