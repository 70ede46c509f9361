// One keep-alive HTTP/1.1 connection to an OTLP collector, sending one request at a time.
// It connects lazily, reconnects after any failure, and bounds every attempt (resolve +
// connect + write + response) with one timer from the injected TimeSource.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "porthole/common/time.hpp"
#include "porthole/telemetry/otlp_exporter_config.hpp"

namespace porthole::telemetry {

using OtlpHttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

struct CollectorResponse {
  boost::system::error_code error;  // set when no complete response arrived
  bool timed_out = false;
  // The request failed on a reused keep-alive connection before any response byte: the
  // collector closed an idle connection under us, so resending at once is safe and expected.
  bool stale_connection = false;
  unsigned status = 0;
  std::string retry_after;  // the Retry-After header, if any
  std::string body;         // at most kMaxResponseBodyBytes
};

class CollectorClient : public std::enable_shared_from_this<CollectorClient> {
 public:
  using Handler = std::function<void(CollectorResponse)>;
  // A response body larger than this is a broken collector; OTLP responses are tiny.
  static constexpr std::size_t kMaxResponseBodyBytes = 1u << 20;

  CollectorClient(boost::asio::any_io_executor executor, TimeSource& time, HttpUrl url, Duration timeout);

  // One request at a time; `handler` runs later on the executor, never inside send().
  void send(std::shared_ptr<const OtlpHttpRequest> request, Handler handler);
  // Abandons the current request (its handler is never called) and closes the connection.
  void close();
  bool busy() const { return busy_; }
  const HttpUrl& url() const { return url_; }

 private:
  // What one request needs while operations are pending. Handlers hold it, so an abandoned
  // operation that completes late never touches freed memory.
  struct Exchange {
    std::shared_ptr<const OtlpHttpRequest> request;
    boost::beast::flat_buffer buffer;
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
  };

  void connect(std::shared_ptr<Exchange> exchange);
  void write(std::shared_ptr<Exchange> exchange);
  void read(std::shared_ptr<Exchange> exchange);
  void finish(CollectorResponse response);
  void fail(boost::system::error_code ec, bool response_started);
  void close_socket();

  HttpUrl url_;
  Duration timeout_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<Timer> deadline_;
  Handler handler_;
  bool busy_ = false;
  bool reused_ = false;
  bool timed_out_ = false;
  std::uint64_t generation_ = 0;  // bumped by close(): completions of abandoned requests are ignored
};

}  // namespace porthole::telemetry
