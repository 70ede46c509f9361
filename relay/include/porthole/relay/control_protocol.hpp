// The control channel's messages (vsock port 7000), carried in frames (frame.hpp).
// Both sides send Hello first; the version is its first field so that any future version can
// still be read far enough to be refused with a clear message.
//
//   Hello            u16 version | u8 role | u32 capabilities | u8 len | name | u8 len | software version
//   Heartbeat        u64 sequence
//   MetricsRequest   u64 id
//   MetricsResponse  u64 id | u8 format (0 = Prometheus text 0.0.4) | text
//   Error            u16 code | message (UTF-8, at most 1024 bytes)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "porthole/relay/frame.hpp"

namespace porthole::relay {

inline constexpr std::uint16_t kControlProtocolVersion = 1;
inline constexpr std::uint16_t kControlPort = 7000;

enum class ControlType : std::uint8_t { Hello = 1, Heartbeat = 2, MetricsRequest = 3, MetricsResponse = 4, Error = 5 };
std::string_view to_string(ControlType t);
inline constexpr ControlType kAllControlTypes[] = {ControlType::Hello, ControlType::Heartbeat,
                                                   ControlType::MetricsRequest, ControlType::MetricsResponse,
                                                   ControlType::Error};
FrameLimits control_frame_limits(std::size_t max_payload);

enum class Role : std::uint8_t { Agent = 1, Sidecar = 2 };
std::string_view to_string(Role r);

// Capability bits announced in Hello; a feature is used only when both sides announce it.
namespace capability {
inline constexpr std::uint32_t kMetricsPull = 1u << 0;
}

struct Hello {
  std::uint16_t version = kControlProtocolVersion;
  Role role = Role::Agent;
  std::uint32_t capabilities = 0;
  std::string name;              // enclave name (agent) or sidecar instance name
  std::string software_version;  // e.g. "0.1.0"
};

enum class ErrorCode : std::uint16_t { VersionMismatch = 1, BadHello = 2, ProtocolError = 3, Superseded = 4, Shutdown = 5 };

struct ErrorMessage {
  ErrorCode code = ErrorCode::ProtocolError;
  std::string message;
};

struct MetricsResponse {
  std::uint64_t id = 0;
  std::string text;
};

// A name is 1..64 bytes of [A-Za-z0-9._-]: it becomes a Prometheus label value and a log field.
bool valid_peer_name(std::string_view name);

std::string encode_hello(const Hello& h);
std::string encode_u64(std::uint64_t v);  // Heartbeat and MetricsRequest payloads
std::string encode_metrics_response(const MetricsResponse& r);
std::string encode_error(const ErrorMessage& e);

// Decoders return nullopt for a malformed payload and, when `why` is given, say what is wrong.
// decode_hello() of another version returns only the version (the rest may mean anything).
std::optional<Hello> decode_hello(std::string_view payload, std::string* why = nullptr);
std::optional<std::uint64_t> decode_u64(std::string_view payload, std::string* why = nullptr);
std::optional<MetricsResponse> decode_metrics_response(std::string_view payload, std::string* why = nullptr);
std::optional<ErrorMessage> decode_error(std::string_view payload, std::string* why = nullptr);

}  // namespace porthole::relay
