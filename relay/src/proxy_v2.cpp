#include "porthole/relay/proxy_v2.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace porthole::relay {
namespace {

constexpr std::uint8_t kSignature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::uint8_t kCmdLocal = 0x20, kCmdProxy = 0x21;
constexpr std::uint8_t kFamUnspec = 0x00, kFamTcp4 = 0x11, kFamTcp6 = 0x21;
constexpr std::size_t kTcp4Bytes = 12, kTcp6Bytes = 36, kUnixBytes = 216;

// Address block size of a family the spec defines, or nullopt for an undefined one.
std::optional<std::size_t> address_bytes(std::uint8_t family) {
  switch (family) {
    case 0x00: return 0;
    case 0x11: case 0x12: return kTcp4Bytes;
    case 0x21: case 0x22: return kTcp6Bytes;
    case 0x31: case 0x32: return kUnixBytes;
    default: return std::nullopt;
  }
}

bool printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

void put_u16(std::string& out, std::size_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

template <std::size_t N>
void put_bytes(std::string& out, const std::array<unsigned char, N>& bytes) {
  out.append(reinterpret_cast<const char*>(bytes.data()), N);
}

void put_tlv(std::string& out, std::uint8_t type, std::string_view value) {
  out.push_back(static_cast<char>(type));
  put_u16(out, value.size());
  out.append(value);
}

boost::asio::ip::address_v6 as_v6(const boost::asio::ip::address& a) {
  return a.is_v6() ? a.to_v6() : boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, a.to_v4());
}

std::uint16_t get_u16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

ProxyDecodeResult invalid(const char* token) {
  ProxyDecodeResult r;
  r.status = ProxyParse::Invalid;
  r.error = token;
  return r;
}

}  // namespace

std::string encode_proxy_v2(const ProxyHeader& h) {
  if (h.listener.size() > kMaxListenerBytes || !printable(h.listener))
    throw std::invalid_argument("PROXY v2 listener name must be at most 64 printable ASCII characters");
  if (h.connection_id.size() > kMaxUniqueIdBytes || !printable(h.connection_id))
    throw std::invalid_argument("PROXY v2 connection id must be at most 128 printable ASCII characters");

  std::string body;
  std::uint8_t family = kFamUnspec;
  if (!h.local && h.source && h.destination) {
    const auto& s = *h.source;
    const auto& d = *h.destination;
    if (s.address().is_v4() && d.address().is_v4()) {
      family = kFamTcp4;
      put_bytes(body, s.address().to_v4().to_bytes());
      put_bytes(body, d.address().to_v4().to_bytes());
    } else {
      family = kFamTcp6;
      put_bytes(body, as_v6(s.address()).to_bytes());
      put_bytes(body, as_v6(d.address()).to_bytes());
    }
    put_u16(body, s.port());
    put_u16(body, d.port());
  }
  if (!h.listener.empty()) put_tlv(body, kTlvListener, h.listener);
  if (!h.connection_id.empty()) put_tlv(body, kTlvUniqueId, h.connection_id);
  for (const auto& [type, value] : h.other_tlvs) {
    if (value.size() > 0xffff) throw std::invalid_argument("PROXY v2 TLV longer than 65535 bytes");
    put_tlv(body, type, value);
  }
  if (kProxyV2FixedBytes + body.size() > kProxyV2MaxHeader)
    throw std::invalid_argument("PROXY v2 header of " + std::to_string(kProxyV2FixedBytes + body.size()) +
                                " bytes exceeds the limit of " + std::to_string(kProxyV2MaxHeader));

  std::string out(reinterpret_cast<const char*>(kSignature), sizeof kSignature);
  out.push_back(static_cast<char>(h.local ? kCmdLocal : kCmdProxy));
  out.push_back(static_cast<char>(family));
  put_u16(out, body.size());
  out += body;
  return out;
}

ProxyDecodeResult decode_proxy_v2(std::span<const std::uint8_t> data, std::size_t max_header) {
  const std::size_t sig = std::min(data.size(), sizeof kSignature);
  if (!std::equal(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(sig), kSignature))
    return invalid("bad_signature");
  if (data.size() > 12) {
    if ((data[12] & 0xF0) != 0x20) return invalid("bad_version");
    if (data[12] != kCmdLocal && data[12] != kCmdProxy) return invalid("bad_command");
  }
  const bool local = data.size() > 12 && data[12] == kCmdLocal;
  std::size_t addr_len = 0;
  if (data.size() > 13) {
    const std::uint8_t family = data[13];
    const auto known = address_bytes(family);
    if (!known) return invalid("bad_family");
    if (!local && family != kFamUnspec && family != kFamTcp4 && family != kFamTcp6) return invalid("bad_family");
    addr_len = *known;
  }
  if (data.size() < kProxyV2FixedBytes) return {};
  const std::size_t length = get_u16(&data[14]);
  if (kProxyV2FixedBytes + length > max_header) return invalid("too_long");
  if (length < addr_len) return invalid("bad_length");
  if (data.size() < kProxyV2FixedBytes + length) return {};

  ProxyDecodeResult r;
  ProxyHeader& h = r.header;
  h.local = local;
  const std::uint8_t* p = data.data() + kProxyV2FixedBytes;
  namespace ip = boost::asio::ip;
  if (!local && data[13] == kFamTcp4) {
    ip::address_v4::bytes_type s, d;
    std::copy_n(p, 4, s.begin());
    std::copy_n(p + 4, 4, d.begin());
    h.source.emplace(ip::address_v4(s), get_u16(p + 8));
    h.destination.emplace(ip::address_v4(d), get_u16(p + 10));
  } else if (!local && data[13] == kFamTcp6) {
    ip::address_v6::bytes_type s, d;
    std::copy_n(p, 16, s.begin());
    std::copy_n(p + 16, 16, d.begin());
    h.source.emplace(ip::address_v6(s), get_u16(p + 32));
    h.destination.emplace(ip::address_v6(d), get_u16(p + 34));
  }

  const std::uint8_t* t = p + addr_len;
  const std::uint8_t* end = p + length;
  bool seen_listener = false, seen_id = false;
  while (t < end) {
    if (end - t < 3) return invalid("bad_tlv");
    const std::uint8_t type = t[0];
    const std::size_t len = get_u16(t + 1);
    if (static_cast<std::size_t>(end - t - 3) < len) return invalid("bad_tlv");
    std::string value(reinterpret_cast<const char*>(t + 3), len);
    t += 3 + len;
    if (type == kTlvListener) {
      if (seen_listener || len > kMaxListenerBytes || !printable(value)) return invalid("bad_tlv");
      seen_listener = true;
      h.listener = std::move(value);
    } else if (type == kTlvUniqueId) {
      if (seen_id || len > kMaxUniqueIdBytes || !printable(value)) return invalid("bad_tlv");
      seen_id = true;
      h.connection_id = std::move(value);
    } else {
      h.other_tlvs.emplace_back(type, std::move(value));
    }
  }
  r.status = ProxyParse::Ok;
  r.consumed = kProxyV2FixedBytes + length;
  return r;
}

}  // namespace porthole::relay
