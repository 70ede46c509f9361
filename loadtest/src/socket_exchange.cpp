#include "socket_exchange.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

namespace porthole::loadtest {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

namespace {
constexpr std::size_t kMaxRawResponse = 64 << 20;
constexpr std::size_t kReadChunk = 16 * 1024;
}  // namespace

SocketExchange::SocketExchange(asio::io_context& io, const ExchangeTarget& target, RequestStamper stamper)
    : io_(io), target_(target), socket_(io), stamper_(stamper) {}

SocketExchange::~SocketExchange() = default;

template <class F>
void SocketExchange::with_stream(F&& f) {
  if (tls_) {
    f(*tls_);
  } else {
    f(socket_);
  }
}

void SocketExchange::start(const PreparedRequest& request, std::uint64_t index, Done done) {
  request_ = &request;
  index_ = index;
  done_ = std::move(done);
  outcome_ = {};
  cancelled_.reset();
  busy_ = true;
  if (!connected_) return connect();
  with_stream([this](auto& s) { write(s); });
}

void SocketExchange::connect() {
  close();
  socket_ = asio::ip::tcp::socket(io_);
  connect_started_ = MonoClock::now();
  asio::async_connect(socket_, target_.endpoints, [this](const error_code& ec, const asio::ip::tcp::endpoint&) {
    if (cancelled_meanwhile()) return;
    if (ec) return fail(ec, RequestError::Connect);
    error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    if (!target_.tls) return after_connect();
    tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *target_.tls);
    if (!target_.server_name.empty()) SSL_set_tlsext_host_name(tls_->native_handle(), target_.server_name.c_str());
    tls_->async_handshake(asio::ssl::stream_base::client, [this](const error_code& hec) {
      if (cancelled_meanwhile()) return;
      if (hec) return fail(hec, RequestError::Tls);
      after_connect();
    });
  });
}

void SocketExchange::after_connect() {
  connected_ = true;
  outcome_.connected = true;
  outcome_.connect = MonoClock::now() - connect_started_;
  buffer_.clear();
  raw_buffer_.clear();
  with_stream([this](auto& s) { write(s); });
}

bool SocketExchange::cancelled_meanwhile() {
  if (!cancelled_) return false;
  close();
  complete(*cancelled_);
  return true;
}

template <class Stream>
void SocketExchange::write(Stream& stream) {
  outcome_.written = true;
  auto on_written = [this, &stream](const error_code& ec, std::size_t n) {
    if (cancelled_meanwhile()) return;
    if (ec) return fail(ec, RequestError::Io);
    outcome_.bytes_sent = n;
    if (target_.protocol == WireProtocol::Http) {
      parser_.reset(request_->head);
      read_http(stream);
    } else {
      read_raw(stream);
    }
  };
  if (!request_->patched()) return asio::async_write(stream, asio::buffer(request_->wire), std::move(on_written));
  const auto& buffers = stamper_.buffers(*request_, index_);
  if (buffers[1].size() == 0) return asio::async_write(stream, buffers[0], std::move(on_written));  // one buffer: cheaper
  asio::async_write(stream, buffers, std::move(on_written));
}

// Feeds what is buffered to the parser and reads more only when it needs more: a plain
// read_some loop is cheaper than Beast's composed async_read, and the load generator must be
// faster than the servers it measures. An incomplete head stays buffered (at most 64 KiB).
template <class Stream>
void SocketExchange::read_http(Stream& stream) {
  if (buffer_.size() != 0) {
    std::size_t used = 0;
    const auto data = buffer_.data();
    const auto result = parser_.feed({static_cast<const char*>(data.data()), data.size()}, used);
    buffer_.consume(used);
    outcome_.bytes_received += used;
    if (result == ResponseParser::Result::Error) return fail(error_code{}, RequestError::Protocol);
    if (result == ResponseParser::Result::Done) {
      outcome_.status = parser_.status();
      if (!parser_.keep_alive()) close();
      return complete(RequestError::None);
    }
  }
  stream.async_read_some(buffer_.prepare(kReadChunk), [this, &stream](const error_code& ec, std::size_t n) {
    if (cancelled_meanwhile()) return;
    buffer_.commit(n);
    if (ec == asio::error::eof && parser_.head_done() && buffer_.size() == 0 &&
        parser_.feed_eof() == ResponseParser::Result::Done) {
      // A body delimited by the end of the connection.
      outcome_.status = parser_.status();
      close();
      return complete(RequestError::None);
    }
    if (ec) return fail(ec, RequestError::Io);
    read_http(stream);
  });
}

template <class Stream>
void SocketExchange::read_raw(Stream& stream) {
  if (!request_->response_until.empty()) {
    asio::async_read_until(stream, asio::dynamic_buffer(raw_buffer_, kMaxRawResponse), request_->response_until,
                           [this](const error_code& ec, std::size_t n) { finish_raw(ec, n); });
    return;
  }
  const std::size_t want = request_->response_bytes - std::min(raw_buffer_.size(), request_->response_bytes);
  asio::async_read(stream, asio::dynamic_buffer(raw_buffer_, kMaxRawResponse), asio::transfer_exactly(want),
                   [this](const error_code& ec, std::size_t) { finish_raw(ec, request_->response_bytes); });
}

void SocketExchange::finish_raw(const error_code& ec, std::size_t response_size) {
  if (cancelled_meanwhile()) return;
  if (ec) return fail(ec, RequestError::Io);
  outcome_.bytes_received = response_size;
  raw_buffer_.erase(0, response_size);
  complete(RequestError::None);
}

void SocketExchange::fail(const error_code& ec, RequestError kind) {
  close();
  if (cancelled_) return complete(*cancelled_);
  RequestError e = kind;
  if (ec == asio::error::eof || ec == http::error::end_of_stream || ec == asio::ssl::error::stream_truncated) {
    e = RequestError::Closed;
  } else if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe) {
    e = RequestError::Reset;
  } else if (ec.category() == asio::error::get_ssl_category()) {
    e = RequestError::Tls;
  } else if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    e = RequestError::Protocol;
  }
  complete(e);
}

void SocketExchange::complete(RequestError error) {
  busy_ = false;
  outcome_.error = error;
  if (error != RequestError::None) outcome_.status = 0;
  auto done = std::move(done_);
  done_ = nullptr;
  if (done) done(outcome_);
}

// Whatever is pending completes later (aborted, or with a result already queued) and ends the
// request as cancelled; the TLS stream stays alive until then, since its operation holds it.
void SocketExchange::cancel(RequestError reason) {
  if (!busy_ || cancelled_) return;
  cancelled_ = reason;
  connected_ = false;
  error_code ignored;
  socket_.cancel(ignored);
  socket_.close(ignored);
}

void SocketExchange::close() {
  connected_ = false;
  tls_.reset();
  error_code ignored;
  if (socket_.is_open()) {
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
}

}  // namespace porthole::loadtest
