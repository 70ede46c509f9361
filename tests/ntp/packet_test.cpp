#include "porthole/ntp/packet.hpp"

#include <chrono>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace porthole::ntp {
namespace {

using namespace std::chrono;
using Bytes = std::vector<std::uint8_t>;

// 2024-01-01T00:00:00Z.
const system_clock::time_point kJan2024{seconds(1'704'067'200)};

// What chronyd 4.x puts on the wire in client mode: LI 0, VN 4, mode 3, poll 6, precision 32,
// everything but the (randomised) transmit timestamp zeroed so the request leaks no clock state.
const Bytes kChronyRequest = {
    0x23, 0x00, 0x06, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
    0x00, 0x00, 0x00, 0x00, 0x5a, 0x3c, 0x91, 0x0e, 0xd4, 0x77, 0x12, 0x8b};

// A stratum-2 server's answer to kChronyRequest: origin echoes the request's transmit.
const Bytes kServerReply = {
    0x24, 0x02, 0x06, 0xe9, 0x00, 0x00, 0x02, 0x1f, 0x00, 0x00, 0x00, 0x3c,  //
    0xc0, 0xa8, 0x01, 0x01, 0xe9, 0x3c, 0x2a, 0x10, 0x12, 0x34, 0x56, 0x78,  //
    0x5a, 0x3c, 0x91, 0x0e, 0xd4, 0x77, 0x12, 0x8b, 0xe9, 0x3c, 0x2b, 0x00,  //
    0x80, 0x00, 0x00, 0x00, 0xe9, 0x3c, 0x2b, 0x00, 0x80, 0x01, 0x00, 0x00};

Bytes with(Bytes b, std::size_t at, std::uint8_t value) {
  b.at(at) = value;
  return b;
}

Bytes zero_transmit(Bytes b) {
  for (std::size_t i = 40; i < 48; ++i) b[i] = 0;
  return b;
}

Bytes resized(Bytes b, std::size_t size) {
  b.resize(size, 0xAB);
  return b;
}

TEST(NtpTimestamp, UnixEpochIsKnownNtpSeconds) {
  const Timestamp t = to_ntp(system_clock::time_point{});
  EXPECT_EQ(t.seconds, 2'208'988'800u);
  EXPECT_EQ(t.fraction, 0u);
  EXPECT_EQ(t.raw(), std::uint64_t{2'208'988'800u} << 32);
  EXPECT_FALSE(t.zero());
  EXPECT_TRUE(Timestamp{}.zero());
}

TEST(NtpTimestamp, HalfSecondIsHalfTheFraction) {
  EXPECT_EQ(to_ntp(kJan2024 + milliseconds(500)).fraction, 0x80000000u);
  EXPECT_EQ(to_ntp(kJan2024 + nanoseconds(999'999'999)).fraction, 4'294'967'292u);  // rounded, not truncated
  EXPECT_EQ(from_ntp(Timestamp{to_ntp(kJan2024).seconds, 0x40000000u}), kJan2024 + milliseconds(250));
}

TEST(NtpTimestamp, RoundTripKeepsSubMicrosecondPrecision) {
  for (const auto t : {kJan2024 + nanoseconds(1), kJan2024 + nanoseconds(123'456'789),
                       kJan2024 + nanoseconds(999'999'999), system_clock::time_point{seconds(-1) + nanoseconds(7)}}) {
    const auto back = from_ntp(to_ntp(t));
    EXPECT_LT(std::chrono::abs(back - t), microseconds(1));
    EXPECT_LE(std::chrono::abs(back - t), nanoseconds(1));
  }
}

TEST(NtpTimestamp, EraRolloverAfter2036) {
  // 2036-02-07T06:28:16Z is NTP second 2^32, i.e. era 1 second 0.
  const system_clock::time_point rollover{seconds(2'085'978'496)};
  EXPECT_EQ(to_ntp(rollover).seconds, 0u);
  EXPECT_EQ(from_ntp(Timestamp{0, 0}), rollover);
  EXPECT_EQ(to_ntp(rollover - seconds(1)).seconds, 0xFFFFFFFFu);
  // 2040-01-01T00:00:00Z.
  const system_clock::time_point later{seconds(2'208'988'800) + nanoseconds(250'000'000)};
  const Timestamp t = to_ntp(later);
  EXPECT_EQ(t.seconds, 123'010'304u);
  EXPECT_EQ(from_ntp(t), later);
}

TEST(NtpHeader, ParsesFieldsBigEndian) {
  const auto h = parse_header(kServerReply);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->leap, 0);
  EXPECT_EQ(h->version, 4);
  EXPECT_EQ(h->mode, Mode::Server);
  EXPECT_EQ(h->stratum, 2);
  EXPECT_EQ(h->poll, 6);
  EXPECT_EQ(h->precision, -23);
  EXPECT_EQ(h->root_delay, 0x0000021Fu);
  EXPECT_EQ(h->root_dispersion, 0x0000003Cu);
  EXPECT_EQ(h->reference_id, 0xC0A80101u);
  EXPECT_EQ(h->reference, (Timestamp{0xE93C2A10u, 0x12345678u}));
  EXPECT_EQ(h->origin, (Timestamp{0x5A3C910Eu, 0xD477128Bu}));
  EXPECT_EQ(h->receive, (Timestamp{0xE93C2B00u, 0x80000000u}));
  EXPECT_EQ(h->transmit, (Timestamp{0xE93C2B00u, 0x80010000u}));
}

TEST(NtpHeader, UnpacksLeapVersionModeBits) {
  // 0xDD = 11 011 101: leap 3, version 3, mode 5.
  const auto h = parse_header(with(kChronyRequest, 0, 0xDD));
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->leap, 3);
  EXPECT_EQ(h->version, 3);
  EXPECT_EQ(h->mode, Mode::Broadcast);
}

TEST(NtpHeader, NeedsFullHeaderButNoPolicy) {
  EXPECT_FALSE(parse_header(resized(kChronyRequest, 47)).has_value());
  EXPECT_FALSE(parse_header({}).has_value());
  EXPECT_TRUE(parse_header(with(kChronyRequest, 0, 0x07)).has_value());  // version 0, private mode
  EXPECT_TRUE(parse_header(resized(kChronyRequest, 2000)).has_value());
}

TEST(NtpHeader, AccessorsReadTimestampBytes) {
  EXPECT_EQ(transmit_timestamp(kChronyRequest), (Timestamp{0x5A3C910Eu, 0xD477128Bu}));
  EXPECT_EQ(origin_timestamp(kServerReply), transmit_timestamp(kChronyRequest));
  EXPECT_TRUE(origin_timestamp(kChronyRequest).zero());
}

TEST(NtpPacketError, NamesAreMetricLabels) {
  EXPECT_EQ(to_string(PacketError::TooShort), "too_short");
  EXPECT_EQ(to_string(PacketError::TooLong), "too_long");
  EXPECT_EQ(to_string(PacketError::BadVersion), "bad_version");
  EXPECT_EQ(to_string(PacketError::WrongMode), "wrong_mode");
  EXPECT_EQ(to_string(PacketError::BadStratum), "bad_stratum");
  EXPECT_EQ(to_string(PacketError::ZeroTransmit), "zero_transmit");
  EXPECT_EQ(to_string(PacketError::BadLength), "bad_length");
}

TEST(NtpClientRequest, ChronyRequestPasses) {
  EXPECT_EQ(check_client_request(kChronyRequest), std::nullopt);
  EXPECT_EQ(check_client_request(with(kChronyRequest, 0, 0x0B)), std::nullopt);  // version 1
  // A MAC (key id + SHA1) and an extension-field-sized tail are whole words.
  EXPECT_EQ(check_client_request(resized(kChronyRequest, 72)), std::nullopt);
  EXPECT_EQ(check_client_request(resized(kChronyRequest, kMaxPacketBytes)), std::nullopt);
}

TEST(NtpClientRequest, EveryError) {
  EXPECT_EQ(check_client_request(resized(kChronyRequest, 47)), PacketError::TooShort);
  EXPECT_EQ(check_client_request({}), PacketError::TooShort);
  EXPECT_EQ(check_client_request(resized(kChronyRequest, kMaxPacketBytes + 4)), PacketError::TooLong);
  EXPECT_EQ(check_client_request(resized(kChronyRequest, 50)), PacketError::BadLength);
  EXPECT_EQ(check_client_request(resized(kChronyRequest, 71)), PacketError::BadLength);
  EXPECT_EQ(check_client_request(with(kChronyRequest, 0, 0x03)), PacketError::BadVersion);  // v0
  EXPECT_EQ(check_client_request(with(kChronyRequest, 0, 0x2B)), PacketError::BadVersion);  // v5
  EXPECT_EQ(check_client_request(with(kChronyRequest, 0, 0x3B)), PacketError::BadVersion);  // v7
  EXPECT_EQ(check_client_request(kServerReply), PacketError::WrongMode);
  EXPECT_EQ(check_client_request(with(kChronyRequest, 0, 0x26)), PacketError::WrongMode);  // control
  EXPECT_EQ(check_client_request(zero_transmit(kChronyRequest)), PacketError::ZeroTransmit);
}

TEST(NtpServerReply, ReplyPasses) {
  EXPECT_EQ(check_server_reply(kServerReply), std::nullopt);
  EXPECT_EQ(check_server_reply(with(kServerReply, 1, 15)), std::nullopt);
  EXPECT_EQ(check_server_reply(resized(kServerReply, 68)), std::nullopt);  // key id + MD5
}

TEST(NtpServerReply, EveryError) {
  EXPECT_EQ(check_server_reply(resized(kServerReply, 0)), PacketError::TooShort);
  EXPECT_EQ(check_server_reply(resized(kServerReply, 1028)), PacketError::TooLong);
  EXPECT_EQ(check_server_reply(resized(kServerReply, 49)), PacketError::BadLength);
  EXPECT_EQ(check_server_reply(with(kServerReply, 0, 0x04)), PacketError::BadVersion);
  EXPECT_EQ(check_server_reply(with(kServerReply, 0, 0x2C)), PacketError::BadVersion);
  EXPECT_EQ(check_server_reply(kChronyRequest), PacketError::WrongMode);
  EXPECT_EQ(check_server_reply(with(kServerReply, 0, 0x21)), PacketError::WrongMode);  // sym. active
  EXPECT_EQ(check_server_reply(with(kServerReply, 1, 16)), PacketError::BadStratum);
  EXPECT_EQ(check_server_reply(with(kServerReply, 1, 255)), PacketError::BadStratum);
  EXPECT_EQ(check_server_reply(zero_transmit(kServerReply)), PacketError::ZeroTransmit);
}

TEST(NtpServerReply, FirstProblemWins) {
  auto bad = zero_transmit(with(with(kServerReply, 0, 0x03), 1, 16));  // v0, mode 3, stratum 16
  EXPECT_EQ(check_server_reply(bad), PacketError::BadVersion);
  EXPECT_EQ(check_server_reply(resized(bad, 49)), PacketError::BadLength);
}

TEST(NtpKissOfDeath, RateReplyPassesAndIsDetected) {
  // LI 3, stratum 0, reference id "RATE".
  Bytes kod = with(with(kServerReply, 0, 0xE4), 1, 0);
  kod[12] = 'R', kod[13] = 'A', kod[14] = 'T', kod[15] = 'E';
  EXPECT_EQ(check_server_reply(kod), std::nullopt);
  const auto h = parse_header(kod);
  ASSERT_TRUE(h.has_value());
  EXPECT_TRUE(is_kiss_of_death(*h));
  EXPECT_EQ(h->reference_id, 0x52415445u);
  EXPECT_EQ(h->leap, 3);
  EXPECT_FALSE(is_kiss_of_death(*parse_header(kServerReply)));
}

TEST(NtpMakeClientRequest, PassesCheckAndCarriesTransmit) {
  const Timestamp tx = to_ntp(kJan2024 + nanoseconds(42));
  const auto req = make_client_request(tx);
  ASSERT_EQ(req.size(), kHeaderBytes);
  EXPECT_EQ(check_client_request(req), std::nullopt);
  EXPECT_EQ(transmit_timestamp(req), tx);
  const auto h = parse_header(req);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->version, 4);
  EXPECT_EQ(h->mode, Mode::Client);
  EXPECT_EQ(h->poll, 6);
  EXPECT_LT(h->precision, 0);
  EXPECT_TRUE(h->origin.zero());
  EXPECT_EQ(parse_header(make_client_request(tx, 3))->version, 3);
}

TEST(NtpSample, ServerOneSecondAheadWithSymmetricDelay) {
  const auto t1 = kJan2024 + nanoseconds(123'456'789);
  const auto t2 = t1 + milliseconds(5) + seconds(1);         // server clock is 1 s ahead
  const auto t3 = t2 + microseconds(100);                    // server processing
  const auto t4 = t3 - seconds(1) + milliseconds(5);
  const Sample s = compute_sample(to_ntp(t1), to_ntp(t2), to_ntp(t3), to_ntp(t4));
  EXPECT_NEAR(s.offset_seconds, 1.0, 1e-9);
  EXPECT_NEAR(s.delay_seconds, 0.010, 1e-9);
}

TEST(NtpSample, NegativeOffsetAndAsymmetricPath) {
  const auto t1 = kJan2024;
  const auto t2 = t1 + milliseconds(30) - milliseconds(250);  // server 250 ms behind, 30 ms out
  const auto t3 = t2 + nanoseconds(500);
  const auto t4 = t3 + milliseconds(250) + milliseconds(10);  // 10 ms back
  const Sample s = compute_sample(to_ntp(t1), to_ntp(t2), to_ntp(t3), to_ntp(t4));
  // The on-wire estimate splits the asymmetry: -0.250 + (0.030 - 0.010) / 2.
  EXPECT_NEAR(s.offset_seconds, -0.240, 1e-9);
  EXPECT_NEAR(s.delay_seconds, 0.040, 1e-9);
}

TEST(NtpSample, SubMicrosecondOffsetAcrossEraRollover) {
  const system_clock::time_point rollover{seconds(2'085'978'496)};
  const auto t1 = rollover - microseconds(3);
  const auto t2 = t1 + microseconds(2) + nanoseconds(300);  // server 300 ns ahead, 2 us each way
  const auto t3 = t2 + microseconds(1);
  const auto t4 = t3 - nanoseconds(300) + microseconds(2);
  ASSERT_GT(to_ntp(t1).seconds, to_ntp(t4).seconds);  // the pair straddles the era boundary
  const Sample s = compute_sample(to_ntp(t1), to_ntp(t2), to_ntp(t3), to_ntp(t4));
  EXPECT_NEAR(s.offset_seconds, 300e-9, 1e-9);
  EXPECT_NEAR(s.delay_seconds, 4e-6, 1e-9);
}

}  // namespace
}  // namespace porthole::ntp
