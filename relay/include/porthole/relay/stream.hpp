// Listening and connecting on any transport through Boost.Asio's generic stream protocol, so
// everything above this layer handles one socket type whatever the transport is.
#pragma once

#include <cstdint>
#include <functional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>

#include "porthole/relay/address.hpp"

namespace porthole::relay {

using Stream = boost::asio::generic::stream_protocol::socket;
using Acceptor = boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>;

struct StreamOptions {
  // SO_VM_SOCKETS_BUFFER_SIZE / _MAX_SIZE on vsock sockets (the kernel default is 256 KiB,
  // which caps throughput on a high-bandwidth vsock). Ignored on other transports.
  std::uint64_t vsock_buffer_bytes = 1 << 20;
  bool operator==(const StreamOptions&) const = default;
};

// Opens, binds and listens. For uds, a stale socket file left by a dead process is replaced;
// a path that exists and is not a socket is an error. Throws boost::system::system_error with
// the endpoint in the message.
Acceptor listen(const boost::asio::any_io_executor& executor, const Endpoint& endpoint, int backlog = 128);

// The accept queue of the listeners that carry connections (ingress, egress, the boundary
// streams): the kernel's maximum (net.core.somaxconn, which caps any larger value), so a burst
// of new connections waits in the queue instead of being turned away.
inline constexpr int kConnectionBacklog = 65535;

// Opens a socket of the endpoint's family and starts an asynchronous connect. On uds the
// connect completes at once: a listener whose accept queue is full fails it with
// boost::asio::error::try_again (Asio alone would report success for a socket that is not
// connected, and the first write would fail with ENOTCONN).
void async_connect(Stream& stream, const Endpoint& endpoint, std::function<void(boost::system::error_code)> handler);

// SO_LINGER 0: closing the stream resets it (RST on TCP) instead of ending it with a FIN, so
// the far end cannot mistake a failure for a complete answer.
void reset_on_close(Stream& stream);

// Per-connection socket options for the endpoint's transport (vsock buffer size; TCP_NODELAY).
void apply_stream_options(Stream& stream, TransportKind kind, const StreamOptions& options);

}  // namespace porthole::relay
