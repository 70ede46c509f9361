#include "porthole/relay/egress_request.hpp"

#include <gtest/gtest.h>

namespace porthole::relay {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes request_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
Bytes wire(const EgressRequest& r) { return request_bytes(encode_egress_request(r)); }
Bytes wire(const EgressReply& r) { return request_bytes(encode_egress_reply(r)); }

// "PHEG" v1, then the fields as given.
Bytes request(std::initializer_list<std::uint8_t> fields) {
  Bytes b = request_bytes("PHEG");
  b.push_back(1);
  b.insert(b.end(), fields);
  return b;
}

TEST(EgressRequest, NameLayoutMatchesTheWireSpec) {
  const auto w = wire(EgressRequest{"api.example.com", 443, "c-17"});
  Bytes want = request_bytes("PHEG");
  want.insert(want.end(), {1, 1, 15});
  const auto host = request_bytes("api.example.com");
  want.insert(want.end(), host.begin(), host.end());
  want.insert(want.end(), {0x01, 0xBB, 4, 'c', '-', '1', '7'});
  EXPECT_EQ(w, want);
}

TEST(EgressRequest, IpHostsTravelAsRawBytes) {
  EXPECT_EQ(wire(EgressRequest{"10.1.2.3", 80, ""}), request({2, 4, 10, 1, 2, 3, 0, 80, 0}));
  const auto v6 = wire(EgressRequest{"2001:db8::1", 443, "x"});
  ASSERT_EQ(v6.size(), 4u + 3u + 16u + 3u + 1u);
  EXPECT_EQ(v6[5], 3);
  EXPECT_EQ(v6[6], 16);
  const auto d = decode_egress_request(v6);
  ASSERT_EQ(d.status, ProxyParse::Ok) << d.error;
  EXPECT_EQ(d.request, (EgressRequest{"2001:db8::1", 443, "x"}));
}

TEST(EgressRequest, RoundTripsAndLeavesPayloadAfterConsumed) {
  for (const EgressRequest& r : {EgressRequest{"a", 1, ""}, EgressRequest{std::string(253, 'z'), 65535, "id"},
                                 EgressRequest{"127.0.0.1", 8080, std::string(64, '~')},
                                 EgressRequest{"::ffff:1.2.3.4", 22, "with space"}}) {
    auto w = wire(r);
    const auto size = w.size();
    w.insert(w.end(), {'G', 'E', 'T'});
    const auto d = decode_egress_request(w);
    ASSERT_EQ(d.status, ProxyParse::Ok) << r.host << ": " << d.error;
    EXPECT_EQ(d.consumed, size);
    EXPECT_EQ(d.request, r);
  }
}

TEST(EgressRequest, NeedsMoreAtEveryTruncation) {
  for (const auto& r : {EgressRequest{"api.example.com", 443, "c-17"}, EgressRequest{"fd00::1", 1, "abc"}}) {
    const auto w = wire(r);
    for (std::size_t n = 0; n < w.size(); ++n) {
      const auto d = decode_egress_request(std::span(w.data(), n));
      EXPECT_EQ(d.status, ProxyParse::NeedMore) << n << " " << d.error;
      EXPECT_EQ(d.consumed, 0u);
    }
  }
}

TEST(EgressRequest, RejectsEachFieldAsSoonAsItArrives) {
  EXPECT_EQ(decode_egress_request(request_bytes("PX")).error, "bad_magic");
  EXPECT_EQ(decode_egress_request(request_bytes("CONNECT api:443")).error, "bad_magic");
  Bytes v2 = request_bytes("PHEG");
  v2.push_back(2);
  EXPECT_EQ(decode_egress_request(v2).error, "bad_version");
  EXPECT_EQ(decode_egress_request(request({0})).error, "bad_kind");
  EXPECT_EQ(decode_egress_request(request({4})).error, "bad_kind");
  EXPECT_EQ(decode_egress_request(request({1, 0})).error, "bad_host");    // empty name
  EXPECT_EQ(decode_egress_request(request({1, 254})).error, "bad_host");  // too long
  EXPECT_EQ(decode_egress_request(request({2, 16})).error, "bad_host");   // v4 is 4 bytes
  EXPECT_EQ(decode_egress_request(request({3, 4})).error, "bad_host");    // v6 is 16 bytes
  EXPECT_EQ(decode_egress_request(request({1, 3, 'a', '_', 'b'})).error, "bad_host");
  EXPECT_EQ(decode_egress_request(request({1, 3, 'a', '/', 'b'})).error, "bad_host");
  EXPECT_EQ(decode_egress_request(request({1, 7, '1', '.', '2', '.', '3', '.', '4'})).error, "bad_host");  // IP as name
  EXPECT_EQ(decode_egress_request(request({2, 4, 1, 2, 3, 4, 0, 0})).error, "bad_port");
  EXPECT_EQ(decode_egress_request(request({2, 4, 1, 2, 3, 4, 0, 1, 65})).error, "bad_id");
  EXPECT_EQ(decode_egress_request(request({2, 4, 1, 2, 3, 4, 0, 1, 3, 'a', '\n'})).error, "bad_id");  // before the end
  EXPECT_EQ(decode_egress_request(request({2, 4, 1, 2, 3, 4, 0, 1, 1, 0x80})).error, "bad_id");
}

TEST(EgressRequest, ValidationAndEncoderAgreeWithTheDecoder) {
  EXPECT_EQ(egress_request_error({"api.example.com", 443, "x"}), "");
  EXPECT_EQ(egress_request_error({"", 443, ""}), "bad_host");
  EXPECT_EQ(egress_request_error({"api.example.com:443", 443, ""}), "bad_host");
  EXPECT_EQ(egress_request_error({std::string(254, 'a'), 443, ""}), "bad_host");
  EXPECT_EQ(egress_request_error({"fe80::1%1", 443, ""}), "bad_host");  // a scope cannot travel
  EXPECT_EQ(egress_request_error({"[::1]", 443, ""}), "bad_host");
  EXPECT_EQ(egress_request_error({"a", 0, ""}), "bad_port");
  EXPECT_EQ(egress_request_error({"a", 1, std::string(65, 'x')}), "bad_id");
  EXPECT_EQ(egress_request_error({"a", 1, "tab\there"}), "bad_id");
  EXPECT_THROW(encode_egress_request({"a", 0, ""}), std::invalid_argument);
}

TEST(EgressStatus, NamesAreMetricLabels) {
  const std::vector<std::string_view> names = {"ok",          "denied",  "dns_failed", "refused",    "unreachable",
                                               "timeout",     "limit",   "protocol",   "unavailable"};
  for (std::uint8_t i = 0; i < names.size(); ++i) EXPECT_EQ(to_string(static_cast<EgressStatus>(i)), names[i]);
}

TEST(EgressReply, RoundTripsEveryStatus) {
  for (std::uint8_t s = 0; s <= 8; ++s) {
    const EgressReply r{static_cast<EgressStatus>(s), "api.example.com:443 is not in egress.allow"};
    auto w = wire(r);
    ASSERT_EQ(w.size(), 7u + r.reason.size());
    w.push_back('x');
    const auto d = decode_egress_reply(w);
    ASSERT_EQ(d.status, ProxyParse::Ok) << d.error;
    EXPECT_EQ(d.consumed, 7u + r.reason.size());
    EXPECT_EQ(d.reply, r);
  }
  EXPECT_EQ(wire(EgressReply{}), (Bytes{'P', 'H', 'E', 'R', 1, 0, 0}));
}

TEST(EgressReply, NeedsMoreAtEveryTruncation) {
  const auto w = wire(EgressReply{EgressStatus::Denied, std::string(200, 'r')});
  for (std::size_t n = 0; n < w.size(); ++n) EXPECT_EQ(decode_egress_reply(std::span(w.data(), n)).status, ProxyParse::NeedMore) << n;
  EXPECT_EQ(decode_egress_reply(w).status, ProxyParse::Ok);
}

TEST(EgressReply, RejectsEachField) {
  EXPECT_EQ(decode_egress_reply(request_bytes("PHEG")).error, "bad_magic");
  EXPECT_EQ(decode_egress_reply(Bytes{'P', 'H', 'E', 'R', 0}).error, "bad_version");
  EXPECT_EQ(decode_egress_reply(Bytes{'P', 'H', 'E', 'R', 1, 9}).error, "bad_status");
  EXPECT_EQ(decode_egress_reply(Bytes{'P', 'H', 'E', 'R', 1, 0, 201}).error, "bad_reason");
  EXPECT_EQ(decode_egress_reply(Bytes{'P', 'H', 'E', 'R', 1, 0, 5, 'a', 0x1b}).error, "bad_reason");
  EXPECT_THROW(encode_egress_reply({EgressStatus::Denied, std::string(201, 'a')}), std::invalid_argument);
  EXPECT_THROW(encode_egress_reply({EgressStatus::Denied, "line\nbreak"}), std::invalid_argument);
}

}  // namespace
}  // namespace porthole::relay
