#include "collector_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace porthole::telemetry {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

CollectorClient::CollectorClient(asio::any_io_executor executor, TimeSource& time, HttpUrl url, Duration timeout)
    : url_(std::move(url)), timeout_(timeout), resolver_(executor), socket_(executor), deadline_(time.make_timer()) {}

void CollectorClient::send(std::shared_ptr<const OtlpHttpRequest> request, Handler handler) {
  auto exchange = std::make_shared<Exchange>();
  exchange->request = std::move(request);
  exchange->parser.body_limit(kMaxResponseBodyBytes);
  handler_ = std::move(handler);
  busy_ = true;
  timed_out_ = false;
  deadline_->arm(timeout_, [this] {
    // Closing makes every pending operation complete with operation_aborted; timed_out_
    // turns that into a timeout for the caller.
    timed_out_ = true;
    resolver_.cancel();
    close_socket();
  });
  reused_ = socket_.is_open();
  if (reused_) {
    write(std::move(exchange));
  } else {
    connect(std::move(exchange));
  }
}

void CollectorClient::connect(std::shared_ptr<Exchange> exchange) {
  resolver_.async_resolve(
      url_.host, std::to_string(url_.port), asio::ip::resolver_base::numeric_service,
      [self = shared_from_this(), gen = generation_, exchange](error_code ec,
                                                               asio::ip::tcp::resolver::results_type results) {
        if (gen != self->generation_) return;
        if (ec) return self->fail(ec, false);
        asio::async_connect(self->socket_, results,
                            [self, gen, exchange](error_code ec, const asio::ip::tcp::endpoint&) {
                              if (gen != self->generation_) return;
                              if (ec) return self->fail(ec, false);
                              error_code ignored;
                              self->socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
                              self->write(exchange);
                            });
      });
}

void CollectorClient::write(std::shared_ptr<Exchange> exchange) {
  const auto& request = *exchange->request;
  http::async_write(socket_, request,
                    [self = shared_from_this(), gen = generation_, exchange](error_code ec, std::size_t) {
                      if (gen != self->generation_) return;
                      if (ec) return self->fail(ec, false);
                      self->read(exchange);
                    });
}

void CollectorClient::read(std::shared_ptr<Exchange> exchange) {
  auto& buffer = exchange->buffer;
  auto& parser = exchange->parser;
  http::async_read(socket_, buffer, parser,
                   [self = shared_from_this(), gen = generation_, exchange](error_code ec, std::size_t) {
                     if (gen != self->generation_) return;
                     if (ec) return self->fail(ec, exchange->parser.got_some());
                     auto message = exchange->parser.release();
                     // HTTP/1.1 without pipelining: bytes after the response would be a broken
                     // collector, so a connection with leftovers is not reused.
                     if (!message.keep_alive() || exchange->buffer.size() != 0) self->close_socket();
                     CollectorResponse response;
                     response.status = message.result_int();
                     if (auto it = message.find(http::field::retry_after); it != message.end()) {
                       response.retry_after = std::string(it->value());
                     }
                     response.body = std::move(message.body());
                     self->finish(std::move(response));
                   });
}

void CollectorClient::fail(error_code ec, bool response_started) {
  CollectorResponse response;
  response.timed_out = timed_out_;
  response.error = timed_out_ ? error_code(asio::error::timed_out) : ec;
  response.stale_connection = !timed_out_ && reused_ && !response_started &&
                              (ec == http::error::end_of_stream || ec == asio::error::eof ||
                               ec == asio::error::connection_reset || ec == asio::error::broken_pipe);
  close_socket();
  finish(std::move(response));
}

void CollectorClient::finish(CollectorResponse response) {
  deadline_->cancel();
  busy_ = false;
  auto handler = std::move(handler_);
  handler_ = nullptr;
  if (handler) handler(std::move(response));
}

void CollectorClient::close() {
  ++generation_;
  deadline_->cancel();
  resolver_.cancel();
  close_socket();
  handler_ = nullptr;
  busy_ = false;
}

void CollectorClient::close_socket() {
  error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace porthole::telemetry
