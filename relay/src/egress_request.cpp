#include "porthole/relay/egress_request.hpp"

#include <algorithm>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>

namespace porthole::relay {
namespace {

constexpr char kRequestMagic[4] = {'P', 'H', 'E', 'G'};
constexpr char kReplyMagic[4] = {'P', 'H', 'E', 'R'};

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

// A name the request may carry: the charset of DNS host names, and not an IP literal (those
// travel as raw bytes, so one destination has one encoding).
bool valid_request_host(std::string_view s) {
  if (s.empty() || s.size() > kEgressMaxName || !std::all_of(s.begin(), s.end(), name_char)) return false;
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(s, ec);
  return static_cast<bool>(ec);
}

// Compares what has arrived of a magic; false at the first mismatching byte.
bool magic_prefix_ok(std::span<const std::uint8_t> data, const char (&magic)[4]) {
  const std::size_t n = std::min<std::size_t>(data.size(), 4);
  for (std::size_t i = 0; i < n; ++i)
    if (data[i] != static_cast<std::uint8_t>(magic[i])) return false;
  return true;
}

template <typename Result>
Result invalid(const char* token) {
  Result r;
  r.status = ProxyParse::Invalid;
  r.error = token;
  return r;
}

}  // namespace

std::string_view egress_request_error(const EgressRequest& r) {
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(r.host, ec);
  if (ec ? !valid_request_host(r.host) : addr.is_v6() && addr.to_v6().scope_id() != 0) return "bad_host";
  if (r.port == 0) return "bad_port";
  if (r.connection_id.size() > kEgressMaxId || !printable(r.connection_id)) return "bad_id";
  return "";
}

std::string encode_egress_request(const EgressRequest& r) {
  if (const auto why = egress_request_error(r); !why.empty())
    throw std::invalid_argument("egress request for '" + r.host + "' cannot be encoded: " + std::string(why));
  std::string out(kRequestMagic, 4);
  out.push_back(static_cast<char>(kEgressVersion));
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(r.host, ec);
  if (ec) {
    out.push_back(static_cast<char>(DestinationKind::Name));
    out.push_back(static_cast<char>(r.host.size()));
    out += r.host;
  } else if (addr.is_v4()) {
    const auto b = addr.to_v4().to_bytes();
    out.push_back(static_cast<char>(DestinationKind::Ipv4));
    out.push_back(static_cast<char>(b.size()));
    out.append(reinterpret_cast<const char*>(b.data()), b.size());
  } else {
    const auto b = addr.to_v6().to_bytes();
    out.push_back(static_cast<char>(DestinationKind::Ipv6));
    out.push_back(static_cast<char>(b.size()));
    out.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
  out.push_back(static_cast<char>(r.port >> 8));
  out.push_back(static_cast<char>(r.port & 0xff));
  out.push_back(static_cast<char>(r.connection_id.size()));
  out += r.connection_id;
  return out;
}

EgressRequestDecode decode_egress_request(std::span<const std::uint8_t> data) {
  using R = EgressRequestDecode;
  if (!magic_prefix_ok(data, kRequestMagic)) return invalid<R>("bad_magic");
  if (data.size() > 4 && data[4] != kEgressVersion) return invalid<R>("bad_version");
  if (data.size() <= 5) return {};
  const auto kind = static_cast<DestinationKind>(data[5]);
  if (kind != DestinationKind::Name && kind != DestinationKind::Ipv4 && kind != DestinationKind::Ipv6)
    return invalid<R>("bad_kind");
  if (data.size() <= 6) return {};
  const std::size_t host_len = data[6];
  if ((kind == DestinationKind::Name && (host_len == 0 || host_len > kEgressMaxName)) ||
      (kind == DestinationKind::Ipv4 && host_len != 4) || (kind == DestinationKind::Ipv6 && host_len != 16))
    return invalid<R>("bad_host");
  const std::size_t port_at = 7 + host_len;
  if (data.size() < port_at) return {};

  R r;
  const auto* host = data.data() + 7;
  namespace ip = boost::asio::ip;
  if (kind == DestinationKind::Name) {
    r.request.host.assign(reinterpret_cast<const char*>(host), host_len);
    if (!valid_request_host(r.request.host)) return invalid<R>("bad_host");
  } else if (kind == DestinationKind::Ipv4) {
    ip::address_v4::bytes_type b;
    std::copy_n(host, b.size(), b.begin());
    r.request.host = ip::address_v4(b).to_string();
  } else {
    ip::address_v6::bytes_type b;
    std::copy_n(host, b.size(), b.begin());
    r.request.host = ip::address_v6(b).to_string();
  }
  if (data.size() < port_at + 2) return {};
  r.request.port = static_cast<std::uint16_t>((data[port_at] << 8) | data[port_at + 1]);
  if (r.request.port == 0) return invalid<R>("bad_port");
  if (data.size() < port_at + 3) return {};
  const std::size_t id_len = data[port_at + 2];
  if (id_len > kEgressMaxId) return invalid<R>("bad_id");
  const std::size_t end = port_at + 3 + id_len;
  // Check the id bytes already in, so a bad one fails before the rest arrives.
  const std::size_t have = std::min(data.size(), end) - (port_at + 3);
  r.request.connection_id.assign(reinterpret_cast<const char*>(data.data() + port_at + 3), have);
  if (!printable(r.request.connection_id)) return invalid<R>("bad_id");
  if (data.size() < end) return {};
  r.status = ProxyParse::Ok;
  r.consumed = end;
  return r;
}

std::string_view to_string(EgressStatus s) {
  switch (s) {
    case EgressStatus::Ok: return "ok";
    case EgressStatus::Denied: return "denied";
    case EgressStatus::DnsFailed: return "dns_failed";
    case EgressStatus::Refused: return "refused";
    case EgressStatus::Unreachable: return "unreachable";
    case EgressStatus::Timeout: return "timeout";
    case EgressStatus::Limit: return "limit";
    case EgressStatus::Protocol: return "protocol";
    case EgressStatus::Unavailable: return "unavailable";
  }
  return "unknown";
}

std::string encode_egress_reply(const EgressReply& r) {
  if (r.reason.size() > kEgressMaxReason || !printable(r.reason))
    throw std::invalid_argument("egress reply reason must be at most 200 printable ASCII characters");
  if (static_cast<std::uint8_t>(r.status) > static_cast<std::uint8_t>(EgressStatus::Unavailable))
    throw std::invalid_argument("egress reply status out of range");
  std::string out(kReplyMagic, 4);
  out.push_back(static_cast<char>(kEgressVersion));
  out.push_back(static_cast<char>(r.status));
  out.push_back(static_cast<char>(r.reason.size()));
  out += r.reason;
  return out;
}

EgressReplyDecode decode_egress_reply(std::span<const std::uint8_t> data) {
  using R = EgressReplyDecode;
  if (!magic_prefix_ok(data, kReplyMagic)) return invalid<R>("bad_magic");
  if (data.size() > 4 && data[4] != kEgressVersion) return invalid<R>("bad_version");
  if (data.size() > 5 && data[5] > static_cast<std::uint8_t>(EgressStatus::Unavailable))
    return invalid<R>("bad_status");
  if (data.size() <= 6) return {};
  const std::size_t len = data[6];
  if (len > kEgressMaxReason) return invalid<R>("bad_reason");
  const std::size_t have = std::min(data.size(), 7 + len) - 7;
  R r;
  r.reply.status = static_cast<EgressStatus>(data[5]);
  r.reply.reason.assign(reinterpret_cast<const char*>(data.data() + 7), have);
  if (!printable(r.reply.reason)) return invalid<R>("bad_reason");
  if (have < len) return {};
  r.status = ProxyParse::Ok;
  r.consumed = 7 + len;
  return r;
}

}  // namespace porthole::relay
