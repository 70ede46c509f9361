#include "porthole/relay/proxy_v2.hpp"

#include <gtest/gtest.h>

namespace porthole::relay {
namespace {

namespace ip = boost::asio::ip;
using Bytes = std::vector<std::uint8_t>;

const Bytes kSig = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

ProxyDecodeResult decode(const Bytes& b, std::size_t max = kProxyV2MaxHeader) { return decode_proxy_v2(b, max); }

// A header built by hand per the spec: signature, ver/cmd, family, u16 length, then `body`.
Bytes hand(std::uint8_t cmd, std::uint8_t fam, const Bytes& body) {
  Bytes out = kSig;
  out.push_back(cmd);
  out.push_back(fam);
  out.push_back(static_cast<std::uint8_t>(body.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

ip::tcp::endpoint ep(const char* a, std::uint16_t port) { return {ip::make_address(a), port}; }

TEST(ProxyV2, EncodesTcp4ExactlyAsHaproxyDoes) {
  ProxyHeader h;
  h.source = ep("192.0.2.10", 51000);
  h.destination = ep("198.51.100.1", 443);
  const auto wire = bytes(encode_proxy_v2(h));
  // HAProxy 2.6 send-proxy-v2 with no TLVs: 16 fixed bytes then 12 address bytes.
  Bytes want = hand(0x21, 0x11, {192, 0, 2, 10, 198, 51, 100, 1, 0xC7, 0x38, 0x01, 0xBB});
  EXPECT_EQ(wire, want);
  const auto r = decode(wire);
  ASSERT_EQ(r.status, ProxyParse::Ok) << r.error;
  EXPECT_EQ(r.consumed, wire.size());
  EXPECT_EQ(r.header, h);
}

TEST(ProxyV2, RoundTripsTlvsAndLeavesPayloadAfterConsumed) {
  ProxyHeader h;
  h.source = ep("10.0.0.7", 40000);
  h.destination = ep("10.0.0.1", 8443);
  h.listener = "public-https";
  h.connection_id = "18446744073709551615";
  h.other_tlvs = {{0x01, "h2"}, {0x04, std::string(3, '\0')}};
  auto wire = bytes(encode_proxy_v2(h));
  const auto header_size = wire.size();
  wire.push_back('G');  // the stream's first payload byte
  const auto r = decode(wire);
  ASSERT_EQ(r.status, ProxyParse::Ok) << r.error;
  EXPECT_EQ(r.consumed, header_size);
  EXPECT_EQ(r.header, h);
}

TEST(ProxyV2, DecodesHaproxyHeaderWithUnknownTlvs) {
  // As HAProxy emits with ALPN (0x01), authority (0x02), unique id (0x05) and CRC32C (0x03).
  Bytes body = {127, 0, 0, 1, 127, 0, 0, 2, 0x30, 0x39, 0x00, 0x50};
  for (Bytes tlv : {Bytes{0x01, 0, 2, 'h', '2'}, Bytes{0x02, 0, 3, 'a', '.', 'b'}, Bytes{0x05, 0, 2, '4', '2'},
                    Bytes{0x03, 0, 4, 1, 2, 3, 4}})
    body.insert(body.end(), tlv.begin(), tlv.end());
  const auto r = decode(hand(0x21, 0x11, body));
  ASSERT_EQ(r.status, ProxyParse::Ok) << r.error;
  EXPECT_EQ(r.header.source, ep("127.0.0.1", 12345));
  EXPECT_EQ(r.header.destination, ep("127.0.0.2", 80));
  EXPECT_EQ(r.header.connection_id, "42");
  EXPECT_EQ(r.header.listener, "");
  const std::vector<std::pair<std::uint8_t, std::string>> others = {
      {0x01, "h2"}, {0x02, "a.b"}, {0x03, std::string("\x01\x02\x03\x04", 4)}};
  EXPECT_EQ(r.header.other_tlvs, others);
}

TEST(ProxyV2, DecodesHandMadeTcp6) {
  Bytes body(36, 0);
  body[15] = 1;                  // src ::1
  body[16] = 0x20, body[17] = 0x01, body[18] = 0x0d, body[19] = 0xb8, body[31] = 2;  // dst 2001:db8::2
  body[32] = 0x1F, body[33] = 0x90, body[34] = 0x00, body[35] = 0x16;
  const auto r = decode(hand(0x21, 0x21, body));
  ASSERT_EQ(r.status, ProxyParse::Ok) << r.error;
  EXPECT_EQ(r.header.source, ep("::1", 8080));
  EXPECT_EQ(r.header.destination, ep("2001:db8::2", 22));
  EXPECT_EQ(r.consumed, 52u);
}

TEST(ProxyV2, MixedFamiliesEncodeAsV4MappedV6) {
  ProxyHeader h;
  h.source = ep("192.0.2.1", 1);
  h.destination = ep("2001:db8::1", 2);
  const auto wire = bytes(encode_proxy_v2(h));
  ASSERT_EQ(wire.size(), 16u + 36u);
  EXPECT_EQ(wire[13], 0x21);
  const auto r = decode(wire);
  ASSERT_EQ(r.status, ProxyParse::Ok);
  EXPECT_EQ(r.header.source, ep("::ffff:192.0.2.1", 1));
  EXPECT_EQ(r.header.destination, h.destination);
}

TEST(ProxyV2, LocalHasNoAddressesEvenWhenAFamilyIsGiven) {
  ProxyHeader h;
  h.local = true;
  h.source = ep("10.0.0.1", 1);  // ignored for LOCAL
  const auto wire = bytes(encode_proxy_v2(h));
  EXPECT_EQ(wire, hand(0x20, 0x00, {}));
  auto r = decode(wire);
  ASSERT_EQ(r.status, ProxyParse::Ok);
  EXPECT_TRUE(r.header.local);
  EXPECT_FALSE(r.header.source);
  // The spec lets LOCAL carry any family's block (even UNIX or UDP); the receiver skips it.
  for (std::uint8_t fam : {0x11, 0x12, 0x21, 0x31, 0x32}) {
    Bytes body(fam >> 4 == 1 ? 12 : fam >> 4 == 2 ? 36 : 216, 7);
    r = decode(hand(0x20, fam, body));
    ASSERT_EQ(r.status, ProxyParse::Ok) << int(fam);
    EXPECT_TRUE(r.header.local);
    EXPECT_FALSE(r.header.source);
    EXPECT_FALSE(r.header.destination);
  }
}

TEST(ProxyV2, ProxyWithUnspecFamilyHasNoAddressesButKeepsTlvs) {
  const auto r = decode(hand(0x21, 0x00, {0xE0, 0, 3, 'a', 'p', 'i'}));
  ASSERT_EQ(r.status, ProxyParse::Ok) << r.error;
  EXPECT_FALSE(r.header.local);
  EXPECT_FALSE(r.header.source);
  EXPECT_EQ(r.header.listener, "api");
  ProxyHeader h;
  h.listener = "api";
  EXPECT_EQ(bytes(encode_proxy_v2(h)), hand(0x21, 0x00, {0xE0, 0, 3, 'a', 'p', 'i'}));
}

TEST(ProxyV2, NeedsMoreAtEveryTruncationAndNeverConsumes) {
  ProxyHeader h;
  h.source = ep("2001:db8::5", 5);
  h.destination = ep("2001:db8::6", 6);
  h.listener = "l";
  h.connection_id = "7";
  const auto wire = bytes(encode_proxy_v2(h));
  for (std::size_t n = 0; n < wire.size(); ++n) {
    const auto r = decode(Bytes(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n)));
    EXPECT_EQ(r.status, ProxyParse::NeedMore) << n << " " << r.error;
    EXPECT_EQ(r.consumed, 0u);
  }
  EXPECT_EQ(decode(wire).status, ProxyParse::Ok);
}

TEST(ProxyV2, BadSignatureIsRejectedAtTheFirstWrongByte) {
  for (std::size_t i = 0; i < kSig.size(); ++i) {
    Bytes b(kSig.begin(), kSig.begin() + static_cast<std::ptrdiff_t>(i));
    b.push_back(kSig[i] ^ 0x40);
    const auto r = decode(b);
    EXPECT_EQ(r.status, ProxyParse::Invalid) << i;
    EXPECT_EQ(r.error, "bad_signature");
  }
  EXPECT_EQ(decode(bytes("GET / HTTP/1.1\r\n")).error, "bad_signature");
  EXPECT_EQ(decode(bytes("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")).error, "bad_signature");  // v1 is not accepted
}

TEST(ProxyV2, RejectsVersionCommandAndFamilyAsSoonAsTheyArrive) {
  auto with = [](std::initializer_list<std::uint8_t> extra) {
    Bytes b = kSig;
    b.insert(b.end(), extra);
    return decode(b);
  };
  EXPECT_EQ(with({0x11}).error, "bad_version");
  EXPECT_EQ(with({0x31}).error, "bad_version");
  EXPECT_EQ(with({0x22}).error, "bad_command");
  EXPECT_EQ(with({0x2F}).error, "bad_command");
  EXPECT_EQ(with({0x21, 0x12}).error, "bad_family");  // UDP4: we carry TCP only
  EXPECT_EQ(with({0x21, 0x31}).error, "bad_family");  // UNIX stream
  EXPECT_EQ(with({0x21, 0x13}).error, "bad_family");
  EXPECT_EQ(with({0x20, 0x41}).error, "bad_family");  // undefined even for LOCAL
  EXPECT_EQ(with({0x21, 0x11}).status, ProxyParse::NeedMore);
}

TEST(ProxyV2, TooLongIsRejectedAsSoonAsTheLengthIsIn) {
  Bytes b = kSig;
  b.insert(b.end(), {0x21, 0x11, 0x02, 0x19});  // 537 > 536
  auto r = decode(b);
  EXPECT_EQ(r.status, ProxyParse::Invalid);
  EXPECT_EQ(r.error, "too_long");
  b[15] = 0x18;  // exactly 536: allowed, waits for the body
  EXPECT_EQ(decode(b).status, ProxyParse::NeedMore);
  EXPECT_EQ(decode(b, 100).error, "too_long");
  b[14] = 0xFF, b[15] = 0xFF;
  EXPECT_EQ(decode(b).error, "too_long");
}

TEST(ProxyV2, LengthShorterThanTheAddressBlockIsBadLength) {
  EXPECT_EQ(decode(hand(0x21, 0x11, Bytes(11, 0))).error, "bad_length");
  EXPECT_EQ(decode(hand(0x21, 0x21, Bytes(35, 0))).error, "bad_length");
  EXPECT_EQ(decode(hand(0x20, 0x31, Bytes(100, 0))).error, "bad_length");
  // ...and it is known before the body arrives.
  auto b = hand(0x21, 0x21, Bytes(12, 0));
  b.resize(16);
  EXPECT_EQ(decode(b).error, "bad_length");
}

TEST(ProxyV2, BadTlvs) {
  const Bytes addrs(12, 1);
  auto with_tlvs = [&](Bytes tlvs) {
    Bytes body = addrs;
    body.insert(body.end(), tlvs.begin(), tlvs.end());
    return decode(hand(0x21, 0x11, body));
  };
  EXPECT_EQ(with_tlvs({0x01, 0x00, 0x05, 'a', 'b'}).error, "bad_tlv");  // value overruns the block
  EXPECT_EQ(with_tlvs({0x01, 0x00}).error, "bad_tlv");                  // a partial TLV header
  EXPECT_EQ(with_tlvs({0x01}).error, "bad_tlv");
  EXPECT_EQ(with_tlvs({0xE0, 0, 1, 'a', 0xE0, 0, 1, 'b'}).error, "bad_tlv");  // two listeners
  EXPECT_EQ(with_tlvs({0x05, 0, 1, '1', 0x05, 0, 1, '2'}).error, "bad_tlv");  // two ids
  EXPECT_EQ(with_tlvs({0xE0, 0, 2, 'a', '\n'}).error, "bad_tlv");            // not printable
  Bytes long_id = {0x05, 0, 129};
  long_id.resize(3 + 129, '9');
  EXPECT_EQ(with_tlvs(long_id).error, "bad_tlv");
  long_id[2] = 128;
  long_id.pop_back();
  EXPECT_EQ(with_tlvs(long_id).status, ProxyParse::Ok);
  Bytes long_listener = {0xE0, 0, 65};
  long_listener.resize(3 + 65, 'x');
  EXPECT_EQ(with_tlvs(long_listener).error, "bad_tlv");
  EXPECT_EQ(with_tlvs({0x01, 0x00, 0x00}).status, ProxyParse::Ok);  // empty values are fine
}

TEST(ProxyV2, EncoderRefusesWhatTheDecoderWouldReject) {
  ProxyHeader h;
  h.listener = std::string(65, 'x');
  EXPECT_THROW(encode_proxy_v2(h), std::invalid_argument);
  h.listener = "ok";
  h.connection_id = std::string(129, '1');
  EXPECT_THROW(encode_proxy_v2(h), std::invalid_argument);
  h.connection_id = "1";
  h.other_tlvs = {{0x01, std::string(600, 'a')}};
  EXPECT_THROW(encode_proxy_v2(h), std::invalid_argument);
}

}  // namespace
}  // namespace porthole::relay
