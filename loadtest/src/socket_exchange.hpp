// The real Exchange: one TCP connection (optionally TLS) that connects on first use and after
// any error, writes a pre-serialised request (with its per-request patches) and reads one
// response — an HTTP/1.1 response (keep-alive; the body is counted, never stored) or, for raw
// TCP, a fixed number of bytes or up to a delimiter. The time spent connecting (and in the TLS
// handshake) is reported apart from the request's. A cancel (timeout, end of the run) wins over
// a completion already queued: the request counts as cancelled and the connection is reopened.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "exchange.hpp"
#include "request_stamp.hpp"
#include "response_parser.hpp"

namespace porthole::loadtest {

enum class WireProtocol { Http, Tcp };

struct ExchangeTarget {
  WireProtocol protocol = WireProtocol::Http;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;  // resolved once, tried in order
  boost::asio::ssl::context* tls = nullptr;               // non-null: TLS over the connection
  std::string server_name;                                // SNI
};

class SocketExchange final : public Exchange {
 public:
  SocketExchange(boost::asio::io_context& io, const ExchangeTarget& target, RequestStamper stamper);
  ~SocketExchange() override;

  void start(const PreparedRequest& request, std::uint64_t index, Done done) override;
  void cancel(RequestError reason) override;

 private:
  template <class Stream> void write(Stream& stream);
  template <class Stream> void read_http(Stream& stream);
  template <class Stream> void read_raw(Stream& stream);
  void connect();
  void after_connect();
  void finish_raw(const boost::system::error_code& ec, std::size_t response_size);
  // A completion that arrives after cancel(): ends the request as cancelled. True if it did.
  bool cancelled_meanwhile();
  void fail(const boost::system::error_code& ec, RequestError kind);
  void complete(RequestError error);
  void close();
  template <class F> void with_stream(F&& f);

  boost::asio::io_context& io_;
  const ExchangeTarget& target_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  boost::beast::flat_buffer buffer_;
  std::string raw_buffer_;
  ResponseParser parser_;
  RequestStamper stamper_;
  const PreparedRequest* request_ = nullptr;
  std::uint64_t index_ = 0;
  MonoTime connect_started_{};
  Done done_;
  RequestOutcome outcome_;
  bool connected_ = false;
  bool busy_ = false;
  std::optional<RequestError> cancelled_;
};

}  // namespace porthole::loadtest
