#include "porthole/relay/address.hpp"

#include <linux/vm_sockets.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace porthole::relay {
namespace {

constexpr std::string_view kEndpointForms = "vsock:CID:PORT, uds:PATH or tcp:HOST:PORT";
constexpr std::string_view kTransportForms = "vsock, uds:DIR or tcp:HOST";

[[noreturn]] void bad(std::string_view text, const std::string& what, std::string_view forms) {
  throw ConfigError("'" + std::string(text) + "': " + what + " (valid forms: " + std::string(forms) + ")");
}

std::uint32_t parse_u32(std::string_view text, std::string_view field, std::string_view whole, std::uint64_t max,
                        std::string_view forms) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (field.empty() || ec != std::errc() || p != field.data() + field.size() || v > max) {
    bad(whole, std::string(text) + " must be a number 0.." + std::to_string(max) + ", got '" + std::string(field) + "'",
        forms);
  }
  return static_cast<std::uint32_t>(v);
}

void check_uds_path(std::string_view whole, std::string_view path, std::string_view what, std::string_view forms) {
  if (path.empty()) bad(whole, std::string(what) + " is empty", forms);
  if (path.front() != '/') bad(whole, std::string(what) + " must be an absolute path", forms);
}

}  // namespace

void split_host_port(const std::string& text, std::string& host, std::uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) throw ConfigError("'" + text + "' is not host:port (e.g. 127.0.0.1:9901)");
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned value = 0;
  const auto p = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || value > 65535) {
    throw ConfigError("'" + text + "': the port must be a number 0..65535");
  }
  port = static_cast<std::uint16_t>(value);
}

Endpoint tcp_endpoint(const std::string& host_port) {
  Endpoint ep;
  ep.kind = TransportKind::Tcp;
  std::uint16_t port = 0;
  split_host_port(host_port, ep.host, port);
  ep.port = port;
  return ep;
}

Endpoint parse_endpoint(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) bad(text, "no transport prefix", kEndpointForms);
  const auto scheme = text.substr(0, colon);
  const auto rest = text.substr(colon + 1);
  Endpoint ep;
  if (scheme == "vsock") {
    ep.kind = TransportKind::Vsock;
    auto c2 = rest.find(':');
    if (c2 == std::string_view::npos) bad(text, "a vsock endpoint needs a CID and a port", kEndpointForms);
    auto cid = rest.substr(0, c2);
    ep.cid = cid == "any" ? kAnyCid : parse_u32("the CID", cid, text, 0xFFFFFFFFu, kEndpointForms);
    ep.port = parse_u32("the port", rest.substr(c2 + 1), text, 0xFFFFFFFFu, kEndpointForms);
  } else if (scheme == "uds") {
    ep.kind = TransportKind::Uds;
    check_uds_path(text, rest, "the socket path", kEndpointForms);
    // sun_path is 108 bytes including the terminator.
    if (rest.size() > 107) bad(text, "the socket path is longer than 107 bytes", kEndpointForms);
    ep.path = std::string(rest);
  } else if (scheme == "tcp") {
    ep.kind = TransportKind::Tcp;
    auto c2 = rest.rfind(':');
    if (c2 == std::string_view::npos || c2 == 0) bad(text, "a tcp endpoint needs a host and a port", kEndpointForms);
    ep.host = std::string(rest.substr(0, c2));
    if (ep.host.size() > 2 && ep.host.front() == '[' && ep.host.back() == ']') ep.host = ep.host.substr(1, ep.host.size() - 2);
    ep.port = parse_u32("the port", rest.substr(c2 + 1), text, 65535, kEndpointForms);
  } else {
    bad(text, "unknown transport '" + std::string(scheme) + "'", kEndpointForms);
  }
  return ep;
}

Transport parse_transport(std::string_view text) {
  Transport t;
  if (text == "vsock") {
    t.kind = TransportKind::Vsock;
  } else if (text.starts_with("uds:")) {
    t.kind = TransportKind::Uds;
    auto dir = text.substr(4);
    check_uds_path(text, dir, "the directory", kTransportForms);
    // Leave room for "/<cid>_<port>.sock" (at most 1 + 10 + 1 + 10 + 5 bytes) in sun_path.
    if (dir.size() > 107 - 27) bad(text, "the directory path is longer than 80 bytes", kTransportForms);
    t.dir = std::string(dir);
    while (t.dir.size() > 1 && t.dir.back() == '/') t.dir.pop_back();
  } else if (text.starts_with("tcp:")) {
    t.kind = TransportKind::Tcp;
    t.host = std::string(text.substr(4));
    if (t.host.empty()) bad(text, "the host is empty", kTransportForms);
  } else {
    bad(text, "unknown transport", kTransportForms);
  }
  return t;
}

Endpoint Transport::endpoint(std::uint32_t cid, std::uint32_t port) const {
  Endpoint ep;
  ep.kind = kind;
  ep.cid = cid;
  ep.port = port;
  if (kind == TransportKind::Uds) {
    ep.path = dir + "/" + std::to_string(cid == kAnyCid ? kParentCid : cid) + "_" + std::to_string(port) + ".sock";
  } else if (kind == TransportKind::Tcp) {
    ep.host = host;
  }
  return ep;
}

std::string Transport::to_string() const {
  switch (kind) {
    case TransportKind::Vsock: return "vsock";
    case TransportKind::Uds: return "uds:" + dir;
    case TransportKind::Tcp: return "tcp:" + host;
  }
  return "?";
}

std::string Endpoint::to_string() const {
  switch (kind) {
    case TransportKind::Vsock: return "vsock:" + (cid == kAnyCid ? std::string("any") : std::to_string(cid)) + ":" + std::to_string(port);
    case TransportKind::Uds: return "uds:" + path;
    case TransportKind::Tcp:
      return "tcp:" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
  return "?";
}

boost::asio::generic::stream_protocol::endpoint Endpoint::to_asio() const {
  using boost::asio::generic::stream_protocol;
  switch (kind) {
    case TransportKind::Vsock: {
      sockaddr_vm addr{};
      addr.svm_family = AF_VSOCK;
      addr.svm_cid = cid;
      addr.svm_port = port;
      return stream_protocol::endpoint(&addr, sizeof addr, 0);
    }
    case TransportKind::Uds:
      return stream_protocol::endpoint(boost::asio::local::stream_protocol::endpoint(path));
    case TransportKind::Tcp:
      return stream_protocol::endpoint(to_tcp());
  }
  throw ConfigError("unknown transport");
}

boost::asio::ip::tcp::endpoint Endpoint::to_tcp() const {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw ConfigError("'" + to_string() + "': the host must be a numeric IP address or localhost");
  return {address, static_cast<std::uint16_t>(port)};
}

}  // namespace porthole::relay
