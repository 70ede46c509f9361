// PROXY protocol v2 (HAProxy's binary header), the first bytes of every ingress stream the
// sidecar opens to the agent: who the client was, which listener took it, and the connection
// id that ties the parent's and the enclave's logs and spans together. The sidecar is
// untrusted, so the decoder bounds everything and rejects a bad header as soon as the byte that
// makes it bad arrives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

namespace porthole::relay {

inline constexpr std::size_t kProxyV2MaxHeader = 16 + 536;  // what we accept: addresses + TLVs within this
inline constexpr std::size_t kProxyV2FixedBytes = 16;       // signature, ver/cmd, family, length
inline constexpr std::uint8_t kTlvUniqueId = 0x05;          // PP2_TYPE_UNIQUE_ID: the connection id
inline constexpr std::uint8_t kTlvListener = 0xE0;          // custom TLV: the sidecar listener name
inline constexpr std::size_t kMaxUniqueIdBytes = 128;       // the spec's limit for PP2_TYPE_UNIQUE_ID
inline constexpr std::size_t kMaxListenerBytes = 64;        // printable ASCII; it becomes a metric label

struct ProxyHeader {
  bool local = false;  // LOCAL command (health checks): no addresses
  // Both set for TCP4/TCP6, both empty for LOCAL and for PROXY with the UNSPEC family.
  std::optional<boost::asio::ip::tcp::endpoint> source, destination;
  std::string listener;       // TLV 0xE0; empty = not sent
  std::string connection_id;  // TLV 0x05; empty = not sent
  std::vector<std::pair<std::uint8_t, std::string>> other_tlvs;  // kept in order, not interpreted

  bool operator==(const ProxyHeader&) const = default;
};

// PROXY command with TCP4 or TCP6 (mixed families: the v4 one becomes v4-mapped v6), or the
// UNSPEC family when an endpoint is missing, or LOCAL; then the listener and unique-id TLVs
// (when non-empty) and other_tlvs verbatim. Precondition: the TLVs fit the limits above and the
// decoder's default max_header; breaking it throws std::invalid_argument (a bug, not input).
std::string encode_proxy_v2(const ProxyHeader& h);

enum class ProxyParse { NeedMore, Ok, Invalid };

struct ProxyDecodeResult {
  ProxyParse status = ProxyParse::NeedMore;
  ProxyHeader header;        // valid when status == Ok
  std::size_t consumed = 0;  // header bytes, when Ok; the stream's payload starts there
  // When Invalid, a short token usable as a metric label: "bad_signature", "bad_version",
  // "bad_command", "bad_family", "too_long", "bad_length", "bad_tlv".
  std::string error;
};

// Incremental: call with everything received so far; NeedMore until the whole header is there.
// Rejects as early as possible: a bad signature at the first mismatching byte, an oversized
// length as soon as the length field is in. Families other than TCP4/TCP6/UNSPEC (UDP, UNIX)
// are "bad_family" for PROXY and accepted (addresses ignored) for LOCAL, as the spec says.
ProxyDecodeResult decode_proxy_v2(std::span<const std::uint8_t> data, std::size_t max_header = kProxyV2MaxHeader);

}  // namespace porthole::relay
