#include <gtest/gtest.h>

#include "porthole/agent/egress_proxy.hpp"

namespace porthole::agent {
namespace {

TEST(ConnectHead, ParsesAuthorityForm) {
  std::string host, error;
  std::uint16_t port = 0;
  const std::string head = "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\nTLS";
  EXPECT_EQ(parse_connect_head(head, host, port, error), static_cast<long>(head.size() - 3));
  EXPECT_EQ(host, "api.example.com");
  EXPECT_EQ(port, 443);
  EXPECT_GT(parse_connect_head("CONNECT [::1]:8443 HTTP/1.0\r\n\r\n", host, port, error), 0);
  EXPECT_EQ(host, "::1");
}

TEST(ConnectHead, NeedsTheWholeHead) {
  std::string host, error;
  std::uint16_t port = 0;
  EXPECT_EQ(parse_connect_head("CONNECT a:1 HTTP/1.1\r\nHost: a", host, port, error), 0);
}

TEST(ConnectHead, RejectsWithAReason) {
  std::string host, error;
  std::uint16_t port = 0;
  EXPECT_EQ(parse_connect_head("GET / HTTP/1.1\r\n\r\n", host, port, error), -1);
  EXPECT_EQ(error, "only CONNECT is served");
  EXPECT_EQ(parse_connect_head("CONNECT a HTTP/1.1\r\n\r\n", host, port, error), -1);
  EXPECT_EQ(error, "the CONNECT target must be host:port");
  EXPECT_EQ(parse_connect_head("CONNECT a:0 HTTP/1.1\r\n\r\n", host, port, error), -1);
  EXPECT_EQ(parse_connect_head("CONNECT a:1 SPDY/3\r\n\r\n", host, port, error), -1);
  EXPECT_EQ(error, "not HTTP/1.x");
  EXPECT_EQ(parse_connect_head("CONNECT\r\n\r\n", host, port, error), -1);
  EXPECT_EQ(error, "malformed request line");
}

}  // namespace
}  // namespace porthole::agent
