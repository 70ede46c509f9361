// The NTP packet layer (RFC 5905): header parsing, the policy checks the relay applies to
// packets crossing the enclave boundary, timestamp conversion and the on-wire offset/delay
// calculation. Pure functions over bytes: no I/O, no allocation except make_client_request.
// Everything coming from the parent is untrusted, so nothing here assumes a packet is sane.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace porthole::ntp {

inline constexpr std::size_t kHeaderBytes = 48;
// Header + extension fields + MAC; anything larger is not a packet chronyd would send or accept.
inline constexpr std::size_t kMaxPacketBytes = 1024;

// A 64-bit NTP timestamp: seconds since 1900 (modulo the 2^32-second era) and a binary fraction.
struct Timestamp {
  std::uint32_t seconds = 0;
  std::uint32_t fraction = 0;

  bool operator==(const Timestamp&) const = default;
  bool zero() const { return seconds == 0 && fraction == 0; }
  std::uint64_t raw() const { return (std::uint64_t{seconds} << 32) | fraction; }
};

Timestamp to_ntp(std::chrono::system_clock::time_point t);
// Era is chosen by the MSB of seconds: set -> era 0 (1968..2036), clear -> era 1 (2036..2104).
std::chrono::system_clock::time_point from_ntp(Timestamp t);

enum class Mode : std::uint8_t {
  Reserved = 0,
  SymmetricActive = 1,
  SymmetricPassive = 2,
  Client = 3,
  Server = 4,
  Broadcast = 5,
  Control = 6,
  Private = 7,
};

struct Header {
  std::uint8_t leap = 0;
  std::uint8_t version = 4;
  Mode mode = Mode::Client;
  std::uint8_t stratum = 0;
  std::int8_t poll = 0;
  std::int8_t precision = 0;
  std::uint32_t root_delay = 0;
  std::uint32_t root_dispersion = 0;
  std::uint32_t reference_id = 0;
  Timestamp reference, origin, receive, transmit;
};

enum class PacketError { TooShort, TooLong, BadVersion, WrongMode, BadStratum, ZeroTransmit, BadLength };

// Stable snake_case names; they are used as metric label values.
std::string_view to_string(PacketError e);

// Decodes the 48-byte header of any packet at least that long; applies no policy.
std::optional<Header> parse_header(std::span<const std::uint8_t> packet);

// Leaving the enclave: 48..1024 bytes with a whole number of 32-bit words after the header,
// version 1..4, mode client, non-zero transmit timestamp. Returns the first problem found.
std::optional<PacketError> check_client_request(std::span<const std::uint8_t> packet);
// Coming back: the same size rules, version 1..4, mode server, stratum 0..15 (0 is a
// kiss-o'-death, let through for chronyd to act on), non-zero transmit timestamp.
std::optional<PacketError> check_server_reply(std::span<const std::uint8_t> packet);

// Stratum 0 in a reply: the reference id carries a kiss code such as RATE, DENY or RSTR.
bool is_kiss_of_death(const Header& h);

// Precondition: packet.size() >= kHeaderBytes.
Timestamp transmit_timestamp(std::span<const std::uint8_t> packet);  // bytes 40..47
Timestamp origin_timestamp(std::span<const std::uint8_t> packet);    // bytes 24..31

// A 48-byte mode-3 request for the agent's own clock measurement.
std::vector<std::uint8_t> make_client_request(Timestamp transmit, std::uint8_t version = 4);

struct Sample {
  double offset_seconds;
  double delay_seconds;
};

// RFC 5905 on-wire calculation: t1 our transmit, t2 server receive, t3 server transmit, t4 our
// receive. Differences are taken in 64-bit fixed point (modulo 2^64, so an era rollover between
// timestamps is harmless) before converting to double, keeping sub-nanosecond precision.
Sample compute_sample(Timestamp t1, Timestamp t2, Timestamp t3, Timestamp t4);

}  // namespace porthole::ntp
