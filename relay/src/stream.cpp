#include "porthole/relay/stream.hpp"

#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>

namespace porthole::relay {

Acceptor listen(const boost::asio::any_io_executor& executor, const Endpoint& endpoint, int backlog) {
  const auto asio_ep = endpoint.to_asio();
  if (endpoint.kind == TransportKind::Uds) {
    struct stat st {};
    if (::lstat(endpoint.path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        throw boost::system::system_error(make_error_code(boost::system::errc::file_exists),
                                          endpoint.to_string() + ": exists and is not a socket");
      }
      ::unlink(endpoint.path.c_str());
    }
  }
  Acceptor acceptor(executor);
  boost::system::error_code ec;
  acceptor.open(asio_ep.protocol(), ec);
  if (!ec && endpoint.kind == TransportKind::Tcp) acceptor.set_option(Acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(asio_ep, ec);
  if (!ec) acceptor.listen(backlog, ec);
  if (ec) throw boost::system::system_error(ec, "listen on " + endpoint.to_string());
  return acceptor;
}

void async_connect(Stream& stream, const Endpoint& endpoint, std::function<void(boost::system::error_code)> handler) {
  boost::system::error_code ec;
  const auto asio_ep = endpoint.to_asio();
  if (stream.is_open()) stream.close(ec);
  stream.open(asio_ep.protocol(), ec);
  if (ec) {
    boost::asio::post(stream.get_executor(), [handler = std::move(handler), ec] { handler(ec); });
    return;
  }
  if (endpoint.kind == TransportKind::Uds) {
    // A non-blocking uds connect never is in progress: it is queued on the listener, or it
    // fails (EAGAIN when the accept queue is full, ECONNREFUSED, ENOENT).
    stream.native_non_blocking(true, ec);
    if (!ec && ::connect(stream.native_handle(), asio_ep.data(), static_cast<socklen_t>(asio_ep.size())) != 0) {
      ec = boost::system::error_code(errno, boost::asio::error::get_system_category());
    }
    boost::asio::post(stream.get_executor(), [handler = std::move(handler), ec] { handler(ec); });
    return;
  }
  stream.async_connect(asio_ep, std::move(handler));
}

void reset_on_close(Stream& stream) {
  const ::linger hard{1, 0};
  if (stream.is_open()) ::setsockopt(stream.native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
}

void apply_stream_options(Stream& stream, TransportKind kind, const StreamOptions& options) {
  const int fd = stream.native_handle();
  if (kind == TransportKind::Vsock) {
    unsigned long long size = options.vsock_buffer_bytes;
    // The max must be raised first: the kernel rejects a size above the current max.
    ::setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_MAX_SIZE, &size, sizeof size);
    ::setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &size, sizeof size);
  } else if (kind == TransportKind::Tcp) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
}

}  // namespace porthole::relay
