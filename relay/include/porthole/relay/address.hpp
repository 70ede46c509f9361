// Endpoint and transport addresses, one syntax everywhere (DESIGN.md "Transports"):
//   endpoints:  vsock:CID:PORT   uds:PATH (a socket file)   tcp:HOST:PORT (development only)
//   transports: vsock            uds:DIR                    tcp:HOST
// A transport plus a vsock (cid, port) pair gives an endpoint: with `uds:DIR` that is the
// socket file DIR/<cid>_<port>.sock, which is how vsock is emulated without Nitro hardware.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "porthole/common/config_reader.hpp"

namespace porthole::relay {

// VMADDR_CID_ANY: listen on every CID this host has.
inline constexpr std::uint32_t kAnyCid = 0xFFFFFFFFu;
inline constexpr std::uint32_t kParentCid = 3;  // the parent instance, seen from a Nitro enclave

enum class TransportKind { Vsock, Uds, Tcp };

struct Endpoint {
  TransportKind kind = TransportKind::Vsock;
  std::uint32_t cid = 0;   // vsock
  std::uint32_t port = 0;  // vsock and tcp
  std::string path;        // uds: the socket file
  std::string host;        // tcp: a numeric address or "localhost"

  std::string to_string() const;
  boost::asio::generic::stream_protocol::endpoint to_asio() const;  // throws ConfigError for bad tcp hosts
  boost::asio::ip::tcp::endpoint to_tcp() const;  // a tcp endpoint's address; the same ConfigError
  bool operator==(const Endpoint&) const = default;
};

struct Transport {
  TransportKind kind = TransportKind::Vsock;
  std::string dir;   // uds
  std::string host;  // tcp

  Endpoint endpoint(std::uint32_t cid, std::uint32_t port) const;
  std::string to_string() const;
  bool operator==(const Transport&) const = default;
};

// "127.0.0.1:9901", "[::1]:123", "api.example.com:443" -> host, port (0..65535); throws
// ConfigError quoting the text.
void split_host_port(const std::string& text, std::string& host, std::uint16_t& port);
// A TCP endpoint from "host:port" (numeric host or localhost when connected or bound).
Endpoint tcp_endpoint(const std::string& host_port);

// Both throw ConfigError whose message quotes the input and says what is wrong and what a
// valid address looks like.
Endpoint parse_endpoint(std::string_view text);
Transport parse_transport(std::string_view text);

}  // namespace porthole::relay
