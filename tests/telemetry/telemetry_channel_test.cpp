// The telemetry channel's payload format: hello, batch header, gzip bound, ack.
#include <gtest/gtest.h>

#include "porthole/telemetry/gzip.hpp"
#include "porthole/telemetry/telemetry_channel.hpp"

namespace porthole::telemetry {
namespace {

TEST(TelemetryChannelFormat, HelloRoundTrips) {
  EXPECT_EQ(decode_channel_hello(encode_channel_hello()), kTelemetryChannelVersion);
  EXPECT_FALSE(decode_channel_hello("x"));
  EXPECT_FALSE(decode_channel_hello("xyz"));
}

TEST(TelemetryChannelFormat, PlainBatchRoundTrips) {
  auto payload = encode_batch_payload(0x0102030405060708ull, ChannelCompression::None, "request");
  ASSERT_TRUE(payload);
  EXPECT_EQ(payload->size(), kBatchHeaderBytes + 7);
  auto b = decode_batch_payload(*payload);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->seq, 0x0102030405060708ull);
  EXPECT_EQ(b->flags, 0);
  std::string error;
  EXPECT_EQ(batch_request_bytes(*b, 100, error), "request");
  EXPECT_FALSE(batch_request_bytes(*b, 3, error));
  EXPECT_NE(error.find("exceeds"), std::string::npos);
}

TEST(TelemetryChannelFormat, GzipBatchIsBoundedOnTheWayIn) {
  const std::string big(100000, 'a');
  auto payload = encode_batch_payload(1, ChannelCompression::Gzip, big);
  ASSERT_TRUE(payload);
  EXPECT_LT(payload->size(), 1000u);
  auto b = decode_batch_payload(*payload);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->flags, kBatchFlagGzip);
  std::string error;
  EXPECT_EQ(batch_request_bytes(*b, 200000, error), big);
  EXPECT_FALSE(batch_request_bytes(*b, 50000, error));
}

// The exporter builds payloads in place (header room, then the request): sealing must give the
// same bytes as encoding from a separate request, compressed or not.
TEST(TelemetryChannelFormat, SealingInPlaceEqualsEncoding) {
  const std::string request(5000, 'r');
  for (auto compression : {ChannelCompression::None, ChannelCompression::Gzip}) {
    std::string payload(kBatchHeaderBytes, 'x');
    payload += request;
    ASSERT_TRUE(seal_batch_payload(payload, 77, compression));
    auto b = decode_batch_payload(payload);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->seq, 77u);
    EXPECT_EQ(b->flags, compression == ChannelCompression::Gzip ? kBatchFlagGzip : 0);
    std::string error;
    EXPECT_EQ(batch_request_bytes(*b, 10000, error), request);
    if (compression == ChannelCompression::None) {
      EXPECT_EQ(payload, *encode_batch_payload(77, compression, request));
    }
  }
}

TEST(TelemetryChannelFormat, BadHeadersAreRefused) {
  EXPECT_FALSE(decode_batch_payload("short"));
  std::string unknown_flag(9, '\0');
  unknown_flag[8] = 0x02;
  EXPECT_FALSE(decode_batch_payload(unknown_flag));
}

TEST(TelemetryChannelFormat, AckRoundTrips) {
  auto a = decode_ack(encode_ack(42, AckStatus::Rejected));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->seq, 42u);
  EXPECT_EQ(a->status, AckStatus::Rejected);
  std::string bad = encode_ack(1, AckStatus::Accepted);
  bad[8] = 7;
  EXPECT_FALSE(decode_ack(bad));
  EXPECT_FALSE(decode_ack("123"));
}

}  // namespace
}  // namespace porthole::telemetry
