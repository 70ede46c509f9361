// The egress destination request, the first bytes of every stream on the egress channel (vsock
// port 7002): the agent opens one stream per outbound TCP connection, sends a request naming
// the destination, the sidecar answers with a reply (a status and a human reason), and on Ok
// raw bytes flow both ways. Both sides treat the other's bytes as untrusted: the decoders are
// bounded, incremental and reject a bad field as soon as it is in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "porthole/relay/proxy_v2.hpp"  // ProxyParse: the NeedMore/Ok/Invalid shape

namespace porthole::relay {

inline constexpr std::uint8_t kEgressVersion = 1;
inline constexpr std::size_t kEgressMaxName = 253;
inline constexpr std::size_t kEgressMaxId = 64;
inline constexpr std::size_t kEgressMaxReason = 200;
// The most either side reads of a request or a reply before giving up on it (both fit well within).
inline constexpr std::size_t kEgressMaxMessage = 512;

enum class DestinationKind : std::uint8_t { Name = 1, Ipv4 = 2, Ipv6 = 3 };

struct EgressRequest {
  std::string host;  // a name, or the address text ("10.1.2.3", "2001:db8::1", no brackets)
  std::uint16_t port = 0;
  std::string connection_id;

  bool operator==(const EgressRequest&) const = default;
};

// wire: "PHEG" | u8 version | u8 kind | u8 host_len | host (name: 1..253 bytes of
// [A-Za-z0-9.-] that is not an IP literal; ip: 4 or 16 raw bytes) | u16 BE port (1..65535) |
// u8 id_len | id (<= 64 printable ASCII)
// "" when `r` can be encoded, else the token the decoder would reject it with ("bad_host",
// "bad_port", "bad_id"): the agent checks a workload's request with this before sending it.
std::string_view egress_request_error(const EgressRequest& r);
// The kind is chosen by parsing host as an IP. Precondition: egress_request_error(r) is empty;
// breaking it throws std::invalid_argument (a bug, not input).
std::string encode_egress_request(const EgressRequest& r);

enum class EgressStatus : std::uint8_t {
  Ok = 0, Denied = 1, DnsFailed = 2, Refused = 3, Unreachable = 4, Timeout = 5, Limit = 6, Protocol = 7,
  Unavailable = 8
};
// "ok", "denied", "dns_failed", "refused", "unreachable", "timeout", "limit", "protocol", "unavailable"
std::string_view to_string(EgressStatus s);

struct EgressReply {
  EgressStatus status = EgressStatus::Ok;
  // <= 200 printable ASCII, a human message, e.g. "api.example.com:443 is not in egress.allow"
  std::string reason;

  bool operator==(const EgressReply&) const = default;
};

// wire: "PHER" | u8 version | u8 status | u8 reason_len | reason
// Precondition: reason is at most 200 printable ASCII characters (std::invalid_argument).
std::string encode_egress_reply(const EgressReply& r);

// Incremental decoders: call with everything received so far. On Ok, `consumed` bytes were the
// message and what follows is the stream's payload. `error` tokens: "bad_magic",
// "bad_version", "bad_kind", "bad_host", "bad_port", "bad_id", "bad_status", "bad_reason".
struct EgressRequestDecode {
  ProxyParse status = ProxyParse::NeedMore;
  EgressRequest request;
  std::size_t consumed = 0;
  std::string error;
};
EgressRequestDecode decode_egress_request(std::span<const std::uint8_t> data);

struct EgressReplyDecode {
  ProxyParse status = ProxyParse::NeedMore;
  EgressReply reply;
  std::size_t consumed = 0;
  std::string error;
};
EgressReplyDecode decode_egress_reply(std::span<const std::uint8_t> data);

}  // namespace porthole::relay
