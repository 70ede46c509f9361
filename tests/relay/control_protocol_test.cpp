#include "porthole/relay/control_protocol.hpp"

#include <gtest/gtest.h>

namespace porthole::relay {
namespace {

TEST(ControlProtocol, HelloRoundTrips) {
  Hello h;
  h.role = Role::Sidecar;
  h.capabilities = capability::kMetricsPull | (1u << 7);
  h.name = "payments-enclave.1";
  h.software_version = "0.1.0";
  auto back = decode_hello(encode_hello(h));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->version, kControlProtocolVersion);
  EXPECT_EQ(back->role, Role::Sidecar);
  EXPECT_EQ(back->capabilities, h.capabilities);
  EXPECT_EQ(back->name, h.name);
  EXPECT_EQ(back->software_version, "0.1.0");
}

TEST(ControlProtocol, AnotherVersionIsReadOnlyAsFarAsItsVersion) {
  // A v2 hello may look like anything after its version field.
  const std::string v2("\x00\x02garbage that v1 cannot parse", 30);
  auto h = decode_hello(v2);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->version, 2);
}

TEST(ControlProtocol, MalformedHellosSayWhy) {
  std::string why;
  EXPECT_FALSE(decode_hello("", &why));
  EXPECT_EQ(why, "hello shorter than its version field");
  Hello h;
  h.name = "ok";
  auto wire = encode_hello(h);
  EXPECT_FALSE(decode_hello(wire.substr(0, wire.size() - 1), &why));
  EXPECT_EQ(why, "hello truncated");
  EXPECT_FALSE(decode_hello(wire + "x", &why));
  EXPECT_EQ(why, "trailing bytes after hello");
  auto bad_role = wire;
  bad_role[2] = 9;
  EXPECT_FALSE(decode_hello(bad_role, &why));
  EXPECT_EQ(why, "hello has an unknown role");
  h.name = "no spaces allowed";
  EXPECT_FALSE(decode_hello(encode_hello(h), &why));
  EXPECT_EQ(why, "hello name must be 1..64 bytes of [A-Za-z0-9._-]");
  h.name = "";
  EXPECT_FALSE(decode_hello(encode_hello(h), &why));
}

TEST(ControlProtocol, PeerNames) {
  EXPECT_TRUE(valid_peer_name("enclave-1.prod_eu"));
  EXPECT_FALSE(valid_peer_name(""));
  EXPECT_FALSE(valid_peer_name(std::string(65, 'a')));
  EXPECT_FALSE(valid_peer_name("a\"b"));
  EXPECT_FALSE(valid_peer_name("a\nb"));
}

TEST(ControlProtocol, U64AndMetricsResponse) {
  EXPECT_EQ(decode_u64(encode_u64(0x0102030405060708ull)).value(), 0x0102030405060708ull);
  std::string why;
  EXPECT_FALSE(decode_u64("1234567", &why));
  EXPECT_FALSE(decode_u64("123456789", &why));
  auto r = decode_metrics_response(encode_metrics_response({7, "a 1\n"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id, 7u);
  EXPECT_EQ(r->text, "a 1\n");
  auto wire = encode_metrics_response({7, ""});
  wire[8] = 1;
  EXPECT_FALSE(decode_metrics_response(wire, &why));
  EXPECT_EQ(why, "metrics response in an unknown format");
  EXPECT_FALSE(decode_metrics_response("short", &why));
}

TEST(ControlProtocol, ErrorMessagesAreBoundedAndPrintable) {
  auto e = decode_error(encode_error({ErrorCode::VersionMismatch, "bad\x1b[31m\nthing"}));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, ErrorCode::VersionMismatch);
  EXPECT_EQ(e->message, "bad?[31m?thing");
  auto long_one = decode_error(std::string("\x00\x03", 2) + std::string(5000, 'x'));
  EXPECT_EQ(long_one->message.size(), 1024u);
  EXPECT_FALSE(decode_error("x"));
}

TEST(ControlProtocol, FrameLimitsKnowEveryControlType) {
  auto l = control_frame_limits(100);
  for (auto t : kAllControlTypes) EXPECT_TRUE(l.known_types.test(static_cast<std::uint8_t>(t)));
  EXPECT_FALSE(l.known_types.test(0));
  EXPECT_FALSE(l.known_types.test(6));
  EXPECT_EQ(l.max_payload, 100u);
}

}  // namespace
}  // namespace porthole::relay
