#include "porthole/ntp/packet.hpp"

namespace porthole::ntp {
namespace {

// Seconds from the NTP epoch (1900-01-01) to the Unix epoch.
constexpr std::int64_t kUnixEpochInNtp = 2'208'988'800;
constexpr std::int64_t kEraSeconds = std::int64_t{1} << 32;
constexpr std::uint64_t kNanosPerSecond = 1'000'000'000;

std::uint32_t read_u32(std::span<const std::uint8_t> p, std::size_t at) {
  return (std::uint32_t{p[at]} << 24) | (std::uint32_t{p[at + 1]} << 16) |
         (std::uint32_t{p[at + 2]} << 8) | std::uint32_t{p[at + 3]};
}

Timestamp read_timestamp(std::span<const std::uint8_t> p, std::size_t at) {
  return Timestamp{read_u32(p, at), read_u32(p, at + 4)};
}

void write_u32(std::vector<std::uint8_t>& out, std::size_t at, std::uint32_t v) {
  out[at] = static_cast<std::uint8_t>(v >> 24);
  out[at + 1] = static_cast<std::uint8_t>(v >> 16);
  out[at + 2] = static_cast<std::uint8_t>(v >> 8);
  out[at + 3] = static_cast<std::uint8_t>(v);
}

// later - earlier in seconds; the modular difference is exact for spans under 68 years.
double seconds_between(Timestamp later, Timestamp earlier) {
  const auto diff = static_cast<std::int64_t>(later.raw() - earlier.raw());
  return static_cast<double>(diff) / 4294967296.0;
}

std::optional<PacketError> check_common(std::span<const std::uint8_t> packet, Mode want) {
  if (packet.size() < kHeaderBytes) return PacketError::TooShort;
  if (packet.size() > kMaxPacketBytes) return PacketError::TooLong;
  if ((packet.size() - kHeaderBytes) % 4 != 0) return PacketError::BadLength;
  const std::uint8_t version = (packet[0] >> 3) & 0x7;
  if (version < 1 || version > 4) return PacketError::BadVersion;
  if (static_cast<Mode>(packet[0] & 0x7) != want) return PacketError::WrongMode;
  return std::nullopt;
}

}  // namespace

Timestamp to_ntp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto since_epoch = t.time_since_epoch();
  const auto secs = floor<seconds>(since_epoch);
  const auto nanos = static_cast<std::uint64_t>(duration_cast<nanoseconds>(since_epoch - secs).count());
  // Round to the nearest 2^-32 s; the largest nanosecond value stays below 2^32.
  const std::uint64_t fraction = ((nanos << 32) + kNanosPerSecond / 2) / kNanosPerSecond;
  // Conversion to unsigned wraps modulo 2^32, which is exactly the NTP era arithmetic.
  const auto ntp_seconds = static_cast<std::uint32_t>(static_cast<std::uint64_t>(secs.count() + kUnixEpochInNtp));
  return Timestamp{ntp_seconds, static_cast<std::uint32_t>(fraction)};
}

std::chrono::system_clock::time_point from_ntp(Timestamp t) {
  using namespace std::chrono;
  std::int64_t ntp_seconds = t.seconds;
  if ((t.seconds & 0x80000000u) == 0) ntp_seconds += kEraSeconds;  // era 1: after 2036-02-07
  const std::int64_t unix_seconds = ntp_seconds - kUnixEpochInNtp;
  const auto nanos = static_cast<std::int64_t>((std::uint64_t{t.fraction} * kNanosPerSecond + (1ull << 31)) >> 32);
  return system_clock::time_point(duration_cast<system_clock::duration>(seconds(unix_seconds) + nanoseconds(nanos)));
}

std::string_view to_string(PacketError e) {
  switch (e) {
    case PacketError::TooShort: return "too_short";
    case PacketError::TooLong: return "too_long";
    case PacketError::BadVersion: return "bad_version";
    case PacketError::WrongMode: return "wrong_mode";
    case PacketError::BadStratum: return "bad_stratum";
    case PacketError::ZeroTransmit: return "zero_transmit";
    case PacketError::BadLength: return "bad_length";
  }
  return "unknown";
}

std::optional<Header> parse_header(std::span<const std::uint8_t> packet) {
  if (packet.size() < kHeaderBytes) return std::nullopt;
  Header h;
  h.leap = packet[0] >> 6;
  h.version = (packet[0] >> 3) & 0x7;
  h.mode = static_cast<Mode>(packet[0] & 0x7);
  h.stratum = packet[1];
  h.poll = static_cast<std::int8_t>(packet[2]);
  h.precision = static_cast<std::int8_t>(packet[3]);
  h.root_delay = read_u32(packet, 4);
  h.root_dispersion = read_u32(packet, 8);
  h.reference_id = read_u32(packet, 12);
  h.reference = read_timestamp(packet, 16);
  h.origin = read_timestamp(packet, 24);
  h.receive = read_timestamp(packet, 32);
  h.transmit = read_timestamp(packet, 40);
  return h;
}

std::optional<PacketError> check_client_request(std::span<const std::uint8_t> packet) {
  if (auto e = check_common(packet, Mode::Client)) return e;
  if (transmit_timestamp(packet).zero()) return PacketError::ZeroTransmit;
  return std::nullopt;
}

std::optional<PacketError> check_server_reply(std::span<const std::uint8_t> packet) {
  if (auto e = check_common(packet, Mode::Server)) return e;
  if (packet[1] > 15) return PacketError::BadStratum;  // 16 = unsynchronized, above reserved
  if (transmit_timestamp(packet).zero()) return PacketError::ZeroTransmit;
  return std::nullopt;
}

bool is_kiss_of_death(const Header& h) { return h.stratum == 0; }

Timestamp transmit_timestamp(std::span<const std::uint8_t> packet) { return read_timestamp(packet, 40); }

Timestamp origin_timestamp(std::span<const std::uint8_t> packet) { return read_timestamp(packet, 24); }

std::vector<std::uint8_t> make_client_request(Timestamp transmit, std::uint8_t version) {
  std::vector<std::uint8_t> out(kHeaderBytes, 0);
  out[0] = static_cast<std::uint8_t>(((version & 0x7) << 3) | static_cast<std::uint8_t>(Mode::Client));
  out[2] = 6;                                   // poll: 64 s, chronyd's default minpoll
  out[3] = static_cast<std::uint8_t>(-20);      // precision: ~1 us
  write_u32(out, 40, transmit.seconds);
  write_u32(out, 44, transmit.fraction);
  return out;
}

Sample compute_sample(Timestamp t1, Timestamp t2, Timestamp t3, Timestamp t4) {
  const double d21 = seconds_between(t2, t1);
  const double d34 = seconds_between(t3, t4);
  const double d41 = seconds_between(t4, t1);
  const double d32 = seconds_between(t3, t2);
  return Sample{(d21 + d34) / 2.0, d41 - d32};
}

}  // namespace porthole::ntp
