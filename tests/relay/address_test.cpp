#include "porthole/relay/address.hpp"

#include <sys/socket.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_error.hpp"

namespace porthole::relay {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::function<void()>& f) { return porthole::testing::config_error_of(f); }

TEST(ParseEndpoint, ReadsEveryForm) {
  auto v = parse_endpoint("vsock:16:8000");
  EXPECT_EQ(v.kind, TransportKind::Vsock);
  EXPECT_EQ(v.cid, 16u);
  EXPECT_EQ(v.port, 8000u);
  EXPECT_EQ(parse_endpoint("vsock:any:7000").cid, kAnyCid);
  auto u = parse_endpoint("uds:/run/porthole/3_7000.sock");
  EXPECT_EQ(u.kind, TransportKind::Uds);
  EXPECT_EQ(u.path, "/run/porthole/3_7000.sock");
  auto t = parse_endpoint("tcp:127.0.0.1:9000");
  EXPECT_EQ(t.host, "127.0.0.1");
  EXPECT_EQ(t.port, 9000u);
  EXPECT_EQ(parse_endpoint("tcp:[::1]:9000").host, "::1");
}

TEST(ParseEndpoint, RoundTripsThroughToString) {
  for (const char* text : {"vsock:16:8000", "vsock:any:7000", "uds:/a/b.sock", "tcp:127.0.0.1:80", "tcp:[::1]:80"}) {
    EXPECT_EQ(parse_endpoint(text).to_string(), text);
  }
}

TEST(ParseEndpoint, ErrorsQuoteTheInputAndSayWhatIsWrong) {
  EXPECT_THAT(error_of([] { parse_endpoint("vsock:abc:7000"); }),
              HasSubstr("'vsock:abc:7000': the CID must be a number 0..4294967295, got 'abc'"));
  EXPECT_THAT(error_of([] { parse_endpoint("vsock:16"); }), HasSubstr("needs a CID and a port"));
  EXPECT_THAT(error_of([] { parse_endpoint("vsock:16:"); }), HasSubstr("the port must be a number"));
  EXPECT_THAT(error_of([] { parse_endpoint("tcp:localhost:70000"); }), HasSubstr("the port must be a number 0..65535"));
  EXPECT_THAT(error_of([] { parse_endpoint("uds:relative/x.sock"); }), HasSubstr("must be an absolute path"));
  EXPECT_THAT(error_of([] { parse_endpoint("uds:/" + std::string(200, 'x')); }), HasSubstr("longer than 107 bytes"));
  EXPECT_THAT(error_of([] { parse_endpoint("http://x"); }), HasSubstr("unknown transport 'http'"));
  EXPECT_THAT(error_of([] { parse_endpoint("nothing"); }), HasSubstr("valid forms: vsock:CID:PORT, uds:PATH or tcp:HOST:PORT"));
}

TEST(Transport, UdsEmulatesVsockAsOneSocketFilePerCidAndPort) {
  auto t = parse_transport("uds:/tmp/ph/");
  EXPECT_EQ(t.dir, "/tmp/ph");
  EXPECT_EQ(t.endpoint(3, 7000).path, "/tmp/ph/3_7000.sock");
  EXPECT_EQ(t.endpoint(16, 8000).path, "/tmp/ph/16_8000.sock");
  // Listening on "any CID" is the parent's file, so both sides agree on the name.
  EXPECT_EQ(t.endpoint(kAnyCid, 7000).path, "/tmp/ph/3_7000.sock");
  EXPECT_EQ(t.to_string(), "uds:/tmp/ph");
}

TEST(Transport, VsockAndTcpEndpoints) {
  auto v = parse_transport("vsock").endpoint(3, 7000);
  EXPECT_EQ(v.to_string(), "vsock:3:7000");
  auto asio = v.to_asio();
  EXPECT_EQ(asio.protocol().family(), AF_VSOCK);
  auto t = parse_transport("tcp:127.0.0.1").endpoint(16, 8000);
  EXPECT_EQ(t.to_string(), "tcp:127.0.0.1:8000");
  EXPECT_EQ(t.to_asio().protocol().family(), AF_INET);
  EXPECT_EQ(parse_transport("uds:/x").endpoint(1, 2).to_asio().protocol().family(), AF_UNIX);
}

TEST(Transport, ErrorsSayWhatIsValid) {
  EXPECT_THAT(error_of([] { parse_transport("vsock:3"); }), HasSubstr("valid forms: vsock, uds:DIR or tcp:HOST"));
  EXPECT_THAT(error_of([] { parse_transport("uds:"); }), HasSubstr("the directory is empty"));
  EXPECT_THAT(error_of([] { parse_transport("uds:/" + std::string(100, 'd')); }), HasSubstr("longer than 80 bytes"));
  EXPECT_THAT(error_of([] { parse_transport("tcp:"); }), HasSubstr("the host is empty"));
  EXPECT_THAT(error_of([] { parse_transport("tcp:example.com").endpoint(1, 2).to_asio(); }),
              HasSubstr("numeric IP address or localhost"));
}

}  // namespace
}  // namespace porthole::relay
